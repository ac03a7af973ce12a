"""The dashboard page from a real (pure) ledger: one cell per block, states as defined, visibility, escaping."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

from gateway.core import ledger as core
from gateway.core.budget import Budget
from gateway.core.budget_state import block_state
from gateway.core.claims import ClaimState
from gateway.core.scheduling import PolicySettings
from gateway.dashboard import html, model
from tests.core.test_ledger import DATASET, NOW, commit, spec

HOSTILE = "<script>alert(1)</script>[/red]"


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def having(self, tag: str, cls: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.found if t == tag and cls in (a.get("class") or "").split()]


def parse(page: str) -> Elements:
    parser = Elements()
    parser.feed(page)
    return parser


def ledger_with_queries():
    state = core.LedgerState(settings=PolicySettings(policy="dpf-n", n=4))
    state, _ = core.add_dataset(state, DATASET, NOW)
    days = [dt.date(2026, 10, d) for d in range(1, 11)]
    state, events = commit(state, core.add_blocks(state, "events", days, Budget.capacity(1, "1e-6"), NOW))
    trail = list(events.events)
    ids = {}
    for name, analyst, eps in (("small", "ann", 0.1), ("big", HOSTILE, 0.9), ("other", "bob", 0.7)):
        claim = core.prepare_claim(state, spec(eps, client_id=name, analyst=analyst), NOW)
        state, change = commit(state, core.arrive(state, claim, NOW))
        trail += change.events
        state, change = commit(state, core.schedule(state, NOW))
        trail += change.events
        ids[name] = claim.id
    return state, trail, ids


def test_heat_map_has_one_cell_per_block_with_the_shared_states():
    state, trail, _ = ledger_with_queries()
    page = parse(html.render(model.build(state, trail, NOW, viewer=None)))
    cells = page.having("rect", "cell")
    blocks = state.blocks_of("events")
    assert [c["data-block"] for c in cells] == [b.key for b in blocks]
    assert [c["data-state"] for c in cells] == [block_state(b).value for b in blocks]
    assert len(page.having("rect", "account")) == 3 * len(blocks)


def test_an_analyst_sees_budgets_and_only_their_own_queries():
    state, trail, ids = ledger_with_queries()
    assert state.claims[ids["small"]].state is ClaimState.ADMITTED
    assert state.claims[ids["other"]].state is ClaimState.PENDING
    operator = html.render(model.build(state, trail, NOW, viewer=None))
    bob = html.render(model.build(state, trail, NOW, viewer="bob"))
    ann = html.render(model.build(state, trail, NOW, viewer="ann"))
    assert ids["other"] in operator and ids["small"] in operator
    assert ids["other"] in bob and ids["small"] not in bob  # bob waits; ann's admission is hers
    assert ids["other"] not in ann and ids["small"] in ann
    assert len(parse(ann).having("rect", "cell")) == len(parse(bob).having("rect", "cell"))  # budgets are public


def test_the_page_is_self_contained_for_offline_use():
    state, trail, _ = ledger_with_queries()
    page = html.render(model.build(state, trail, NOW, viewer=None))
    assert "<script" not in page and "http://" not in page and "https://" not in page  # nothing fetched
    assert "<link" not in page and "@import" not in page


def test_user_strings_are_escaped_never_markup():
    state, trail, _ = ledger_with_queries()
    page = html.render(model.build(state, trail, NOW, viewer=None))
    assert "<script>" not in page
    assert HOSTILE in "".join(parse(page).text)  # shown literally
