"""Burn-down from the audit trail: it follows grants, releases and refunds, and reads rdp ledgers in ε."""

from __future__ import annotations

from decimal import Decimal

from gateway.core import ledger as core
from gateway.core.budget import Budget
from gateway.core.burndown import burn_down
from tests.core.test_rdp_ledger import DATASET, DAY, NOW, SETTINGS, _spec


def finish_with(spent: Budget | None, budget: dict[str, object], settings_rdp: bool = True):
    settings = SETTINGS if settings_rdp else SETTINGS.model_copy(update={"accounting": "basic"})
    state, _ = core.add_dataset(core.LedgerState(settings=settings), DATASET, NOW)
    state, trail = core.add_blocks(state, "events", [DAY], Budget.capacity(1, "1e-5"), NOW)
    claim = core.prepare_claim(state, _spec(budget), NOW)
    for step in (
        lambda s: core.arrive(s, claim, NOW),
        lambda s: core.schedule(s, NOW),
        lambda s: core.start_launch(s, claim.id, NOW),
        lambda s: core.record_run(s, claim.id, "r", NOW),
        lambda s: core.finish(s, claim.id, True, NOW, result={}, spent=spent),
    ):
        state, events = step(state)
        trail += events
    return state, trail


def test_a_refund_of_unspent_delta_shows_in_the_burn_down():
    state, trail = finish_with(Budget(Decimal("0.3")), {"epsilon": "0.3", "delta": "1e-6"}, settings_rdp=False)
    view = burn_down(state.blocks_of("events"), trail, state.settings.orders() if state.settings.rdp else ())
    (points,) = view.series.values()
    assert [p.remaining for p in points] == [
        Budget(Decimal(1), Decimal("0.00001")),  # added
        Budget(Decimal("0.7"), Decimal("0.000009")),  # granted ε 0.3, δ 1e-6
        Budget(Decimal("0.7"), Decimal("0.00001")),  # charged ε 0.3 only: the unused δ came back
    ]
    assert points[-1].remaining == state.blocks_of("events")[0].remaining  # the trail agrees with the ledger


def test_rdp_burn_down_is_in_epsilon_at_the_blocks_delta():
    state, trail = finish_with(None, {"rho": "0.01"})
    view = burn_down(state.blocks_of("events"), trail, state.settings.orders() if state.settings.rdp else ())
    (block,) = view.blocks
    (points,) = view.series.values()
    assert [p.remaining.is_curve for p in points] == [True, True]  # added, granted: per order
    assert Decimal(0) < view.total[-1].remaining.epsilon < Decimal(1)  # one point: every event at NOW
    assert view.total[-1].remaining.epsilon == view.left[block.key]  # the trail agrees with the ledger
