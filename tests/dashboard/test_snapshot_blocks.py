"""Views of a snapshot's version blocks: the dashboard's heat map and the burn-down series label them by
version (``v=LABEL``), where a dated block shows its day."""

from __future__ import annotations

import datetime as dt

from gateway.cli.plot import burn_figure, series_json
from gateway.core import ledger as core
from gateway.core.budget import Budget
from gateway.core.burndown import burn_down
from gateway.core.scheduling import PolicySettings
from gateway.dashboard import html, model
from tests.core.test_ledger import NOW, commit
from tests.core.test_snapshot import SNAPSHOT, snapshot_spec
from tests.dashboard.test_page import parse


def test_version_blocks_are_labelled_by_version_in_the_heat_map_and_the_burn_down():
    state = core.LedgerState(settings=PolicySettings(policy="fcfs"))
    state, _ = core.add_dataset(state, SNAPSHOT, NOW)
    trail = []
    for i, label in enumerate(("2026-10", "2026-11")):
        state, change = commit(
            state, core.add_version(state, "people", label, Budget.capacity(1), NOW + dt.timedelta(i))
        )
        trail += change.events
    claim = core.prepare_claim(state, snapshot_spec("latest"), NOW)
    state, change = commit(state, core.arrive(state, claim, NOW))
    trail += change.events
    state, change = commit(state, core.schedule(state, NOW))
    trail += change.events

    page = parse(html.render(model.build(state, trail, NOW + dt.timedelta(2), viewer=None)))
    assert "v=2026-11" in page.text  # the heat map labels the last cell (and one a week) under it
    cells = [a["data-block"] for a in page.having("rect", "cell")]
    assert cells == ["people/version=2026-10", "people/version=2026-11"]
    view = burn_down(state.blocks_of("people"), trail, ())
    series = series_json("people", view)
    assert [(b["block"], b["day"], b["data_version"]) for b in series["blocks"]] == [
        ("people/version=2026-10", None, "2026-10"),
        ("people/version=2026-11", None, "2026-11"),
    ]
    labels = [t.get_text() for t in burn_figure("people", view).axes[0].get_xticklabels()]
    assert labels == ["v=2026-10", "v=2026-11"]
