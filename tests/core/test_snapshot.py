"""Snapshot data sets: one block per version of the whole table, selected by version in the spec.

A version block is a block like any other to every policy; the spec refuses days on a snapshot and
versions on a dated data set with the form that fits; hostile version labels are refused.
"""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.core import ledger as core
from gateway.core.blocks import Block
from gateway.core.budget import Budget
from gateway.core.claims import ClaimState
from gateway.core.datasets import BlockPeriod, ColumnType, DataFormat, Dataset
from gateway.core.jobs import GrantedBudget, JobRequest
from gateway.core.scheduling import PolicySettings
from gateway.core.spec import load_spec_text, parse_spec
from gateway.errors import BlockRangeError, GatewayValidationError, SpecError
from tests.core.test_ledger import DATASET, NOW, commit
from tests.core.test_ledger_policies import SETTINGS

SNAPSHOT = Dataset(
    name="people",
    path="/data/people",
    format=DataFormat.PARQUET,
    block_period=BlockPeriod.VERSION,
    columns={"user": ColumnType.STRING, "age": ColumnType.INTEGER},
)
HOSTILE_LABELS = ["[red]x[/red]", "a/b", "../up", "x" * 10_000, "v\x1b[2J", "", "v 1", ".hidden", "ü", "v1\n"]


def snapshot_spec(blocks: object, eps: float = 0.3, client_id: str | None = None, dataset: str = "people"):
    data = {
        "engine": "tumult",
        "dataset": dataset,
        "analyst": "ann",
        "blocks": blocks,
        "budget": {"epsilon": eps},
        "privacy_unit": "row",
        "aggregate": {"function": "count"},
    }
    if client_id:
        data["client_id"] = client_id
    return parse_spec(data)


def with_versions(settings: PolicySettings, *labels: str) -> core.LedgerState:
    state = core.LedgerState(settings=settings)
    state, _ = core.add_dataset(state, SNAPSHOT, NOW)
    state, _ = core.add_dataset(state, DATASET, NOW)
    for i, label in enumerate(labels):
        state, _ = commit(state, core.add_version(state, "people", label, Budget.capacity(1), NOW + dt.timedelta(i)))
    return state


def test_a_snapshot_has_no_time_column_and_a_block_per_version():
    assert SNAPSHOT.snapshot and SNAPSHOT.time_column is None
    assert SNAPSHOT.version_path("2026-11") == "/data/people/version=2026-11"
    with pytest.raises(GatewayValidationError, match="no time column"):
        Dataset(**{**SNAPSHOT.model_dump(), "time_column": "age"})
    with pytest.raises(GatewayValidationError, match="--no-time-column"):
        Dataset(**{**SNAPSHOT.model_dump(), "block_period": BlockPeriod.DAY})


def test_versions_are_blocks_keyed_by_label_and_latest_is_the_last_added():
    state = with_versions(PolicySettings(policy="fcfs"), "v2", "v1")  # added in that order: v1 is the latest
    assert [b.key for b in state.blocks_of("people")] == ["people/version=v2", "people/version=v1"]
    latest = core.prepare_claim(state, snapshot_spec("latest"), NOW)
    assert latest.blocks == ("people/version=v1",)
    chosen = core.prepare_claim(state, snapshot_spec({"version": "v2"}), NOW)
    assert chosen.blocks == ("people/version=v2",)
    block = state.blocks["people/version=v2"]
    assert block.day is None and block.data_version == "v2" and block.label == "v=v2"


def test_adding_a_version_again_is_a_no_op_and_another_capacity_is_refused():
    state = with_versions(PolicySettings(policy="fcfs"), "v1")
    again, events = core.add_version(state, "people", "v1", Budget.capacity(1), NOW)
    assert again is state and events == []
    with pytest.raises(BlockRangeError, match="capacity is fixed"):
        core.add_version(state, "people", "v1", Budget.capacity(2), NOW)


def test_days_and_versions_do_not_mix():
    state = with_versions(PolicySettings(policy="fcfs"), "v1")
    state, _ = core.add_blocks(state, "events", [dt.date(2026, 10, 1)], Budget.capacity(1), NOW)
    with pytest.raises(GatewayValidationError, match=r"snapshot .*blocks: \{version: LABEL\} or blocks: latest"):
        core.prepare_claim(state, snapshot_spec({"last": 1}), NOW)
    with pytest.raises(GatewayValidationError, match=r"one block per day .*blocks: \{last: K\}"):
        core.prepare_claim(state, snapshot_spec("latest", dataset="events"), NOW)
    with pytest.raises(GatewayValidationError, match="--version is for snapshot"):
        core.add_version(state, "events", "v1", Budget.capacity(1), NOW)
    with pytest.raises(GatewayValidationError, match="blocks add people --version LABEL"):
        core.add_blocks(state, "people", [dt.date(2026, 10, 1)], Budget.capacity(1), NOW)
    with pytest.raises(BlockRangeError, match="no block for version 'v9'"):
        core.prepare_claim(state, snapshot_spec({"version": "v9"}), NOW)


def test_a_snapshot_without_versions_says_how_to_add_one():
    state = with_versions(PolicySettings(policy="fcfs"))
    with pytest.raises(BlockRangeError, match="dpgw blocks add people --version LABEL"):
        core.prepare_claim(state, snapshot_spec("latest"), NOW)


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ({"version": "v1", "last": 2}, "give no days with it"),
        ({"version": "v1", "latest": True}, "not both"),
        ({"version": "a/b"}, "version label 'a/b' is invalid"),
        ({"version": "[red]x"}, "is invalid"),
        ({"version": "x" * 5000}, "is invalid"),
        ({"version": 7.5}, "blocks.version"),
        ({"version": True}, "blocks.version"),
        ({"version": False}, "blocks.version"),
    ],
)
def test_spec_refuses_malformed_version_selections(blocks, message):
    with pytest.raises(SpecError, match=message):
        snapshot_spec(blocks)


def test_version_selections_round_trip_through_the_stored_spec():
    for blocks in ("latest", {"version": "2026-11.b_2"}, {"last": 3}):
        spec = snapshot_spec(blocks)
        assert parse_spec(spec.to_json()) == spec
    assert snapshot_spec("latest").to_json()["blocks"] == {"latest": True}
    assert "latest" not in snapshot_spec({"last": 3}).to_json()["blocks"]
    assert load_spec_text(
        "engine: tumult\ndataset: people\nanalyst: a\nblocks: latest\nbudget: {epsilon: 1}\n"
        "privacy_unit: row\naggregate: {function: count}\n"
    ).blocks.latest


@pytest.mark.parametrize("label", HOSTILE_LABELS)
def test_hostile_version_labels_are_refused_everywhere(label):
    state = with_versions(PolicySettings(policy="fcfs"))
    with pytest.raises(GatewayValidationError, match="is invalid"):
        core.add_version(state, "people", label, Budget.capacity(1), NOW)
    with pytest.raises(GatewayValidationError, match="is invalid"):
        SNAPSHOT.version_path(label)
    with pytest.raises(SpecError):
        snapshot_spec({"version": label})
    doc = with_versions(PolicySettings(policy="fcfs"), "v1").blocks["people/version=v1"].to_json()
    with pytest.raises(GatewayValidationError):
        Block.from_json({**doc, "data_version": label})  # a damaged or forged stored block


@pytest.mark.parametrize("name", list(SETTINGS))
def test_every_policy_treats_a_version_block_like_any_block(name):
    state = with_versions(SETTINGS[name], "v1", "v2")
    ids = []
    for i in range(3):
        claim = core.prepare_claim(state, snapshot_spec({"version": "v1"}, client_id=f"q{i}"), NOW)
        state, _ = commit(state, core.arrive(state, claim, NOW))
        ids.append(claim.id)
    too_much = core.prepare_claim(state, snapshot_spec({"version": "v1"}, eps=1.5, client_id="big"), NOW)
    state, _ = commit(state, core.arrive(state, too_much, NOW))
    assert state.claims[too_much.id].state is ClaimState.REJECTED  # more than the version's capacity
    later = NOW + dt.timedelta(days=3)  # time-based policies have released everything by now
    state, _ = commit(state, core.schedule(state, later))
    assert all(state.claims[i].state is ClaimState.ADMITTED for i in ids), name
    for claim_id in ids:
        state, _ = commit(state, core.start_launch(state, claim_id, later))
        state, _ = commit(state, core.record_run(state, claim_id, "r", later))
        state, _ = commit(state, core.finish(state, claim_id, True, later))
    v1, v2 = state.blocks["people/version=v1"], state.blocks["people/version=v2"]
    assert v1.consumed == Budget.demand("0.9") and v1.allocated == Budget() and v1.held == {}
    assert v2.consumed == Budget() and v2.allocated == Budget()  # the other version is untouched
    for block in (v1, v2):
        assert Block.from_json(block.to_json()) == block


def test_a_fourth_query_on_a_spent_version_waits_or_is_rejected_while_a_new_version_serves_it():
    state = with_versions(PolicySettings(policy="fcfs"), "v1")
    for i in range(3):
        claim = core.prepare_claim(state, snapshot_spec("latest", eps=0.4, client_id=f"q{i}"), NOW)
        state, _ = commit(state, core.arrive(state, claim, NOW))
        state, _ = commit(state, core.schedule(state, NOW))
    states = sorted(c.state.value for c in state.claims.values())
    assert states == ["admitted", "admitted", "rejected"]  # 0.4 + 0.4 fit in 1; a third cannot
    state, _ = commit(state, core.add_version(state, "people", "v2", Budget.capacity(1), NOW + dt.timedelta(1)))
    claim = core.prepare_claim(state, snapshot_spec("latest", eps=0.4, client_id="q3"), NOW)
    state, _ = commit(state, core.arrive(state, claim, NOW))
    state, _ = commit(state, core.schedule(state, NOW))
    assert claim.blocks == ("people/version=v2",) and state.claims[claim.id].state is ClaimState.ADMITTED


def test_a_job_request_reads_exactly_one_version_of_a_snapshot():
    spec = snapshot_spec("latest")
    granted = GrantedBudget(epsilon=spec.demand.epsilon)
    request = JobRequest(submission_id="s", spec=spec, dataset=SNAPSHOT, version="v1", granted=granted, output="/o")
    assert JobRequest.model_validate_json(request.model_dump_json()) == request
    with pytest.raises(ValueError, match="exactly one version"):
        JobRequest(submission_id="s", spec=spec, dataset=SNAPSHOT, granted=granted, output="/o")
    with pytest.raises(ValueError, match="exactly one version"):
        JobRequest(
            submission_id="s",
            spec=spec,
            dataset=SNAPSHOT,
            version="v1",
            blocks=(dt.date(2026, 1, 1),),
            granted=granted,
            output="/o",
        )


def test_names_and_client_ids_with_a_final_newline_are_refused():
    """A regex ending in ``$`` also matches before a final newline; names, labels and client ids use fullmatch."""
    with pytest.raises(GatewayValidationError, match="is invalid"):
        Dataset(**{**SNAPSHOT.model_dump(), "name": "people\n"})
    with pytest.raises(SpecError, match="client_id"):
        snapshot_spec("latest", client_id="q1\n")


def test_run_arguments_name_the_granted_version():
    from argparse import Namespace

    from gateway.core.jobs import blocks_text
    from gateway.runtime.entrypoint import _check_arguments

    spec = snapshot_spec("latest")
    request = JobRequest(
        submission_id="s",
        spec=spec,
        dataset=SNAPSHOT,
        version="v1",
        granted=GrantedBudget(epsilon=spec.demand.epsilon),
        output="/o",
    )
    assert blocks_text(request) == "version=v1"
    args = {"epsilon": None, "delta": None, "output": None}
    _check_arguments(request, Namespace(blocks="version=v1", **args))
    with pytest.raises(GatewayValidationError, match="differs from the request"):
        _check_arguments(request, Namespace(blocks="version=v2", **args))


def test_labels_yaml_reads_as_numbers_or_dates_are_taken_as_written():
    text = (
        "engine: tumult\ndataset: people\nanalyst: a\nbudget: {epsilon: 1}\nprivacy_unit: row\n"
        "aggregate: {function: count}\nblocks: {version: %s}\n"
    )
    assert load_spec_text(text % "2026").blocks.version == "2026"
    assert load_spec_text(text % "2026-10-01").blocks.version == "2026-10-01"
    assert load_spec_text(text % "'007'").blocks.version == "007"
