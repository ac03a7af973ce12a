"""Every store keeps a snapshot's version blocks as it keeps day blocks: created, charged, reloaded,
and read back equal by a fresh instance (another gateway), through ``Block.to_json``/``from_json``."""

from __future__ import annotations

from gateway.core import ledger as core
from gateway.core.blocks import Block
from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.datasets import BlockPeriod, ColumnType, DataFormat, Dataset
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import parse_spec
from gateway.ledger.base import full_view
from tests.ledger.support import gateway_for

SNAPSHOT = Dataset(
    name="people",
    path="/data/people",
    format=DataFormat.PARQUET,
    block_period=BlockPeriod.VERSION,
    columns={"user": ColumnType.STRING, "v": ColumnType.DOUBLE},
)


def _spec(blocks: object, client_id: str) -> object:
    return parse_spec(
        {
            "engine": "tumult",
            "dataset": "people",
            "analyst": "ann",
            "client_id": client_id,
            "blocks": blocks,
            "budget": {"epsilon": 0.25},
            "privacy_unit": "row",
            "aggregate": {"function": "count"},
        }
    )


def test_version_blocks_round_trip_and_are_charged_on_every_store(make_store):
    store = make_store()
    store.create(PolicySettings(policy="dpf-n", n=4))
    gw = gateway_for(store)
    gw._mutate(lambda s, now: core.add_dataset(s, SNAPSHOT, now))
    gw._mutate(lambda s, now: core.add_version(s, "people", "2026-10", Budget.capacity(1), now))
    gw._mutate(lambda s, now: core.add_version(s, "people", "2026-11.b", Budget.capacity(1, "1e-6"), now))
    fresh = make_store().load()  # another instance reads what this one wrote
    assert sorted(fresh.blocks) == ["people/version=2026-10", "people/version=2026-11.b"]
    assert fresh.blocks == store.load().blocks
    assert fresh.datasets["people"] == SNAPSHOT

    claim = core.prepare_claim(fresh, _spec("latest", "q1"), gw.clock())
    assert claim.blocks == ("people/version=2026-11.b",)
    gw._mutate(lambda s, now: core.arrive(s, core.prepare_claim(s, claim.spec, now, claim.id), now))
    gw._mutate(lambda s, now: core.schedule(s, now))
    for step in (core.start_launch, lambda s, i, now: core.record_run(s, i, "r", now)):
        gw._mutate(lambda s, now, step=step: step(s, claim.id, now))
    gw._mutate(lambda s, now: core.finish(s, claim.id, True, now))

    after = full_view(make_store())
    assert after.claims[claim.id].state is ClaimState.SUCCEEDED
    assert after.claims[claim.id].spec.blocks.latest
    spent = after.blocks["people/version=2026-11.b"]
    assert spent.consumed == Budget.demand("0.25") and spent.data_version == "2026-11.b" and spent.day is None
    assert spent.arrivals == 1 and spent.version > 1
    assert after.blocks["people/version=2026-10"].consumed == Budget()
    for block in after.blocks.values():
        assert Block.from_json(block.to_json()) == block
    added = [e for e in make_store().audit() if e.kind == "blocks-added"]
    assert [e.blocks for e in added] == [("people/version=2026-10",), ("people/version=2026-11.b",)]
