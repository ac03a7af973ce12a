"""A ledger in one DynamoDB table: an item per record, each change one ``TransactWriteItems``.

Keys: ``pk="ledger"`` with ``sk`` = ``settings``, ``dataset#<name>``, ``block#<key>``, ``claim#<id>``,
``analyst#<name>`` or ``retired#<dataset>`` (so one consistent-read Query returns the live ledger), and
``pk="audit"`` with ``sk`` = ``<time>#<uuid>`` holding one commit's audit events (so the trail reads
back in time order), ``pk="finished#<id>"``, ``sk="claim"`` for each finished claim and
``pk="spent#<block key>"``, ``sk="block"`` for each block that left the live state, retired and spent
(history: a load queries the live partition only, so its cost follows the live work, not the ledger's
age; a spent block's Delete is conditioned on its version like any write). The transaction that
finishes a claim deletes its live item and creates its history item; one that creates a claim checks
that no history item has its id (an idempotent retry after the finish finds the finished claim). Every
record keeps its JSON (``doc``) and ``version``; a block also keeps its ``unlocked`` and ``remaining``
(ε and δ) as numbers (basic accounting only: RDP curves stay in ``doc`` and are conditioned on the
version alone), and a claim its ``state``.

A change is all-or-nothing: every record is conditioned on the version it replaces (creates on
``attribute_not_exists``) and, when this store read the prior record, on its prior claim state and on
the block holding at least the budget the change takes from it, so the table itself refuses an
overspend even from a writer with a bug. The commit's events are one create-only item in the same
transaction, so an event exists exactly when its change does. ``CancellationReasons`` separate a
moved record (``LedgerConflictError``: re-read and recompute) from a transient conflict or throttling
(retried here with jittered backoff).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from gateway.core.analysts import Analyst
from gateway.core.blocks import Block
from gateway.core.budget import Budget
from gateway.core.claims import Claim
from gateway.core.datasets import Dataset
from gateway.core.ledger import AuditEvent, Change, LedgerState, RetiredDays, is_finished
from gateway.core.scheduling import PolicySettings
from gateway.errors import (
    GatewayError,
    GatewayInternalError,
    LedgerConflictError,
    LedgerError,
    LedgerNotFoundError,
)
from gateway.ledger.aws import TRANSIENT_CODES, Backoff, client_errors, error_code, make_client, unavailable
from gateway.ledger.base import warn_damaged_audit
from gateway.ledger.codec import DECODE_ERRORS, decode_events
from gateway.ledger.template import Kind, LedgerTemplate, Raw, Snapshot

MAX_ACTIONS = 100  # TransactWriteItems' limit
LEDGER, AUDIT = "ledger", "audit"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _num(value: Decimal) -> dict[str, str]:
    return {"N": Budget(value).to_json()["epsilon"]}


class DynamoDBLedgerStore(LedgerTemplate[None]):
    records_per_commit = MAX_ACTIONS  # bulk changes (a long block range) commit in chunks
    checks_in_write = True  # every write is conditioned in the transaction: no read before a commit

    def __init__(self, table: str, client: Any = None, backoff: Backoff | None = None) -> None:
        self.table = table
        self.url = f"dynamodb://{table}"
        self._client = client
        self.backoff = backoff or Backoff()
        # The records of the last snapshot read, to condition a commit on their prior content too.
        self._seen_blocks: dict[str, Block] = {}
        self._seen_claims: dict[str, Claim] = {}
        self._decoded: dict[str, tuple[str, Any]] = {}  # sk -> (version, decoded record)
        # Finished claims still in the live partition (a table written before the split): moved to history
        # a few at a time by later commits.
        self._legacy_finished: dict[str, Claim] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client("dynamodb")
        return self._client

    # --- create and read ------------------------------------------------------------------------

    def create(self, settings: PolicySettings) -> None:
        """Write the ledger's settings item; create the table (on-demand) only if it does not exist.

        Trying the write first means a deployed table (infra/dpgw-core.yaml) needs no DescribeTable or
        CreateTable permission.
        """
        item = {"pk": {"S": LEDGER}, "sk": {"S": "settings"}, "doc": {"S": _dumps(settings.model_dump())}}
        for attempt in range(2):
            try:
                self.client.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(sk)")
                return
            except client_errors() as exc:
                code = error_code(exc)
                if code == "ConditionalCheckFailedException":
                    raise LedgerError(
                        f"a ledger already exists at {self.url}; use it, or pick another --ledger"
                    ) from exc
                if code != "ResourceNotFoundException" or attempt:
                    raise unavailable(self.url, exc) from exc
            try:
                self._ensure_table()
            except client_errors() as exc:
                raise unavailable(self.url, exc) from exc

    def _ensure_table(self) -> None:
        try:
            self.client.create_table(
                TableName=self.table,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
        except client_errors() as exc:
            if error_code(exc) != "ResourceInUseException":  # it exists already (or is being created)
                raise
        self.client.get_waiter("table_exists").wait(TableName=self.table, WaiterConfig={"Delay": 1})

    def _query(self, pk: str) -> list[dict[str, Any]]:
        try:
            pages = self.client.get_paginator("query").paginate(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}},
                ConsistentRead=True,
            )
            return [item for page in pages for item in page["Items"]]
        except client_errors() as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise LedgerNotFoundError(
                    f"no ledger at {self.url}; create one with: dpgw init --ledger {self.url}"
                ) from exc
            raise unavailable(self.url, exc) from exc

    def read_live(self) -> Snapshot[None]:
        """Every live record from one consistent-read Query.

        Pages are read one after another, so two records may come from different moments; commits
        stay safe because each one is conditioned on every record it writes.
        """
        settings: PolicySettings | None = None
        datasets: dict[str, Dataset] = {}
        blocks: dict[str, Block] = {}
        claims: dict[str, Claim] = {}
        analysts: dict[str, Analyst] = {}
        retired: dict[str, RetiredDays] = {}
        self._legacy_finished = {}
        for item in self._query(LEDGER):
            kind, _, key = item["sk"]["S"].partition("#")
            record = self._decode(kind, item)
            if kind == "settings":
                settings = record
            elif kind == "dataset":
                datasets[key] = record
            elif kind == "block":
                blocks[key] = record
            elif kind == "claim" and is_finished(record):
                self._legacy_finished[key] = record
            elif kind == "claim":
                claims[key] = record
            elif kind == "analyst":
                analysts[key] = record
            elif kind == "retired":
                retired[key] = record
        if settings is None:
            raise LedgerNotFoundError(f"no ledger at {self.url}; create one with: dpgw init --ledger {self.url}")
        self._seen_blocks.update(blocks)
        self._seen_claims.update(claims)
        state = LedgerState(
            settings=settings, datasets=datasets, blocks=blocks, claims=claims, analysts=analysts, retired=retired
        )
        return Snapshot(state, None)

    def _decode(self, kind: str, item: dict[str, Any]) -> Any:
        """A record's object, decoded again only when its version moved (decoding dominates a load)."""
        sk, version = item["sk"]["S"], item.get("version", {}).get("N", "0")
        if item["pk"]["S"] != LEDGER:  # a history item: keyed by its partition
            sk = item["pk"]["S"]
        cached = self._decoded.get(sk)
        if cached is not None and cached[0] == version:
            return cached[1]
        decoders: dict[str, Callable[[Any], Any]] = {
            "settings": PolicySettings.model_validate,
            "dataset": Dataset.model_validate,
            "block": lambda doc: Block.from_json(doc).check(),
            "claim": Claim.from_json,
            "analyst": Analyst.from_json,
            "retired": RetiredDays.from_json,
        }
        try:
            record = decoders[kind](json.loads(item["doc"]["S"]))
        except DECODE_ERRORS as exc:
            detail = " ".join(str(exc).split())[:300] or type(exc).__name__
            raise LedgerError(
                f"the ledger at {self.url} has an unreadable record {sk[:100]!r} ({type(exc).__name__}: {detail}); "
                "restore it from a backup or its audit trail"
            ) from exc
        self._decoded[sk] = (version, record)
        return record

    def read_history_claim(self, claim_id: str, live: Snapshot[None] | None = None) -> Raw | None:
        """Its history item by key, else (a table written before the split) its live item if finished."""
        for key in (
            {"pk": {"S": f"finished#{claim_id}"}, "sk": {"S": "claim"}},
            {"pk": {"S": LEDGER}, "sk": {"S": f"claim#{claim_id}"}},
        ):
            try:
                item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
            except client_errors() as exc:
                raise unavailable(self.url, exc) from exc
            if item is not None:
                doc: str = item["doc"]["S"]
                return doc
        return None

    def list_history(self, kind: Kind) -> Iterable[Raw]:
        """A scan of the history items (for reports), plus finished claims not yet moved out of the live partition."""
        found: list[Raw] = []
        if kind == "claim":
            self.load()
            found += [_dumps(c.to_json()) for c in self._legacy_finished.values()]
        try:
            pages = self.client.get_paginator("scan").paginate(
                TableName=self.table,
                FilterExpression="begins_with(pk, :h)",
                ExpressionAttributeValues={":h": {"S": "finished#" if kind == "claim" else "spent#"}},
                ConsistentRead=True,
            )
            found += [item["doc"]["S"] for page in pages for item in page["Items"]]
        except client_errors() as exc:
            raise unavailable(self.url, exc) from exc
        return found

    def audit(self) -> list[AuditEvent]:
        events: list[AuditEvent] = []
        for item in self._query(AUDIT):
            try:
                events += decode_events(item["events"]["S"])
            except (ValueError, KeyError, TypeError) as exc:
                warn_damaged_audit(f"{self.url} audit item {str(item.get('sk'))[:80]}", str(exc))
        return events

    # --- commit ---------------------------------------------------------------------------------

    @property
    def commit_attempts(self) -> int:  # type: ignore[override]
        return self.backoff.attempts

    def pause(self, attempt: int) -> None:
        self.backoff.pause(attempt)

    def fit(self, change: Change) -> Change:
        if change.spent and len(self._live_actions(change, self._history_actions(change))) > MAX_ACTIONS:
            # No room to move spent blocks out (two actions each): they stay live, written as usual.
            return replace(change, blocks=change.blocks + change.spent, spent=(), retired=())
        return change

    def append_history(self, live: Snapshot[None] | None, change: Change) -> list[dict[str, Any]]:
        """The history items of the change (finished claims, spent blocks, its events), created in the same
        transaction as the live writes."""
        return self._history_actions(change)

    def write_live(
        self, live: Snapshot[None] | None, change: Change, new_state: LedgerState | None, appended: Any
    ) -> bool:
        """One ``TransactWriteItems``: the live writes, each conditioned on its version, with the history items."""
        actions = self._live_actions(change, appended)
        if len(actions) > MAX_ACTIONS:
            raise LedgerError(
                f"this update touches {len(actions)} ledger records, above DynamoDB's {MAX_ACTIONS} per transaction; "
                "split it (e.g. add fewer blocks at once, or query fewer blocks)"
            )
        try:
            self.client.transact_write_items(TransactItems=actions)
        except client_errors() as exc:
            code = error_code(exc)
            if code == "TransactionCanceledException":
                reasons = exc.response.get("CancellationReasons", [])  # type: ignore[attr-defined]
                codes = [r.get("Code", "None") for r in reasons]
                if "ConditionalCheckFailed" in codes:
                    raise self._conflict(actions, reasons) from exc
                if any(c in TRANSIENT_CODES for c in codes) or not reasons:
                    return False
            if code in TRANSIENT_CODES:
                return False
            if code == "ResourceNotFoundException":
                raise LedgerNotFoundError(f"no ledger at {self.url}; create one with: dpgw init") from exc
            raise unavailable(self.url, exc) from exc
        for action in actions:  # moved out of the live partition: no longer to migrate
            key = action.get("Delete", {}).get("Key", {}).get("sk", {}).get("S", "")
            self._legacy_finished.pop(key.removeprefix("claim#"), None)
        return True

    def _conflict(self, actions: list[dict[str, Any]], reasons: list[dict[str, Any]]) -> GatewayError:
        """A moved record is a conflict; a block at its expected version without the budget is a bug."""
        for action, reason in zip(actions, reasons, strict=False):
            if reason.get("Code") != "ConditionalCheckFailed":
                continue
            request = next(iter(action.values()))
            sk = request["Key"]["sk"]["S"] if "Key" in request else request["Item"]["sk"]["S"]
            old = reason.get("Item")
            expected = request.get("ExpressionAttributeValues", {}).get(":prev")
            if sk.startswith("block#") and old and expected and old.get("version") == expected:
                return GatewayInternalError(
                    f"the ledger refused to take more budget than {sk.removeprefix('block#')} holds; "
                    "nothing was granted (this is a bug, please report it)"
                )
            return LedgerConflictError(f"{sk.replace('#', ' ', 1)} changed concurrently")
        return LedgerConflictError("the ledger changed concurrently")

    def _history_actions(self, change: Change) -> list[dict[str, Any]]:
        actions = [
            self._create(self._claim_item(f"finished#{c.id}", "claim", c)) for c in change.claims if is_finished(c)
        ]
        actions += [self._create(self._block_history_item(b)) for b in change.spent]
        if change.events:
            item = {
                "pk": {"S": AUDIT},
                "sk": {"S": f"{change.events[0].at.isoformat()}#{uuid.uuid4().hex}"},
                "events": {"S": _dumps([e.to_json() for e in change.events])},
            }
            actions.append(self._create(item))
        return actions

    def _live_actions(self, change: Change, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        actions: list[dict[str, Any]] = []
        for dataset in change.datasets:
            item = {
                "pk": {"S": LEDGER},
                "sk": {"S": f"dataset#{dataset.name}"},
                "doc": {"S": _dumps(dataset.model_dump(mode="json"))},
            }
            actions.append(self._create(item))
        for block in change.blocks:
            actions.append(self._block_action(block))
        guards = []
        for claim in change.claims:
            writes, guard = self._claim_actions(claim)
            actions.extend(writes)
            guards.extend(guard)
        for analyst in change.analysts:
            actions.append(self._analyst_action(analyst))
        for block in change.spent:
            actions.append(self._spend(block))
        for record in change.retired:
            actions.append(self._retired_action(record))
        # A new claim's guard (no history item has its id) goes in when the transaction has room: the service
        # checks history itself after a consistent load, so the guard only backs it up for other writers.
        room = MAX_ACTIONS - len(actions) - len(history)
        actions.extend(guards[: max(0, room)])
        moves = (MAX_ACTIONS - len(actions) - len(history)) // 2
        for claim in list(self._legacy_finished.values())[: max(0, min(moves, 10))]:
            actions.extend(self._move_to_history(claim))
        return actions + history

    def _create(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(sk)"}}

    def _replace(self, item: dict[str, Any], condition: str, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": item,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": values,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _block_action(self, block: Block) -> dict[str, Any]:
        item = {
            "pk": {"S": LEDGER},
            "sk": {"S": f"block#{block.key}"},
            "doc": {"S": _dumps(block.to_json())},
            "version": {"N": str(block.version)},
        }
        if not block.capacity.is_curve:
            item |= {
                "unlocked_eps": _num(block.unlocked.epsilon),
                "unlocked_delta": _num(block.unlocked.delta),
                "remaining_eps": _num(block.remaining.epsilon),
                "remaining_delta": _num(block.remaining.delta),
            }
        if block.version == 1:
            return self._create(item)
        condition = "#v = :prev"
        values: dict[str, Any] = {":prev": {"N": str(block.version - 1)}}
        prior = self._seen_blocks.get(block.key)
        # Under rdp accounting a block's amounts are curves (one ε per order, "fits at some order"),
        # which a DynamoDB condition cannot express; the version condition alone makes the write
        # sound: it applies only to the very record the change was computed from.
        if prior is not None and prior.version == block.version - 1 and not block.capacity.is_curve:
            # The budget this change takes out of the block's unlocked and remaining accounts: the stored
            # amounts must cover it (DynamoDB conditions compare, they do not subtract).
            take = prior.unlocked - block.unlocked
            use = prior.remaining - block.remaining
            for name, amount in (
                ("unlocked_eps", take.epsilon),
                ("unlocked_delta", take.delta),
                ("remaining_eps", use.epsilon),
                ("remaining_delta", use.delta),
            ):
                if amount > 0:
                    condition += f" AND {name} >= :{name}"
                    values[f":{name}"] = _num(amount)
        return self._replace(item, condition, values)

    def _analyst_action(self, analyst: Analyst) -> dict[str, Any]:
        return self._record_action(f"analyst#{analyst.name}", analyst.to_json(), analyst.version)

    def _record_action(self, sk: str, doc: dict[str, Any], version: int) -> dict[str, Any]:
        """A live record known by its version only: created, or replaced on the version it read."""
        item = {"pk": {"S": LEDGER}, "sk": {"S": sk}, "doc": {"S": _dumps(doc)}, "version": {"N": str(version)}}
        if version == 1:
            return self._create(item)
        return self._replace(item, "#v = :prev", {":prev": {"N": str(version - 1)}})

    def _claim_actions(self, claim: Claim) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """A claim's live writes (its live item while unfinished, else the live item's delete; its history
        item is created with the history), and the guard of a new claim: no history item holds its id."""
        history_key = {"pk": {"S": f"finished#{claim.id}"}, "sk": {"S": "claim"}}
        live_key = {"pk": {"S": LEDGER}, "sk": {"S": f"claim#{claim.id}"}}
        if not is_finished(claim):
            live = self._claim_action(claim)
            if claim.version > 1:
                return [live], []
            return [live], [self._absent(history_key)]
        if claim.version == 1:  # finished at once (rejected on arrival): no live item may hold the id
            return [self._absent(live_key)], []
        put = self._claim_action(claim)["Put"]
        return [{"Delete": {k: v for k, v in put.items() if k != "Item"} | {"Key": live_key}}], []

    def _absent(self, key: dict[str, Any]) -> dict[str, Any]:
        return {
            "ConditionCheck": {"TableName": self.table, "Key": key, "ConditionExpression": "attribute_not_exists(sk)"}
        }

    def _claim_item(self, pk: str, sk: str, claim: Claim) -> dict[str, Any]:
        return {
            "pk": {"S": pk},
            "sk": {"S": sk},
            "doc": {"S": _dumps(claim.to_json())},
            "version": {"N": str(claim.version)},
            "state": {"S": claim.state.value},
        }

    def _block_history_item(self, block: Block) -> dict[str, Any]:
        return {
            "pk": {"S": f"spent#{block.key}"},
            "sk": {"S": "block"},
            "doc": {"S": _dumps(block.to_json())},
            "version": {"N": str(block.version)},
        }

    def _move_to_history(self, claim: Claim) -> list[dict[str, Any]]:
        """A finished claim of a table written before the split: its live item becomes a history item."""
        item = self._claim_item(f"finished#{claim.id}", "claim", claim)
        return [self._delete(f"claim#{claim.id}", claim.version), self._create(item)]

    def _spend(self, block: Block) -> dict[str, Any]:
        """A spent block leaves the live partition, conditioned on the version the change read."""
        return self._delete(f"block#{block.key}", block.version - 1)

    def _delete(self, sk: str, version: int) -> dict[str, Any]:
        """Delete a live item that still has ``version``."""
        return {
            "Delete": {
                "TableName": self.table,
                "Key": {"pk": {"S": LEDGER}, "sk": {"S": sk}},
                "ConditionExpression": "#v = :prev",
                "ExpressionAttributeNames": {"#v": "version"},
                "ExpressionAttributeValues": {":prev": {"N": str(version)}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _retired_action(self, record: RetiredDays) -> dict[str, Any]:
        return self._record_action(f"retired#{record.dataset}", record.to_json(), record.version)

    def _claim_action(self, claim: Claim) -> dict[str, Any]:
        item = self._claim_item(LEDGER, f"claim#{claim.id}", claim)
        if claim.version == 1:
            return self._create(item)
        condition = "#v = :prev"
        values: dict[str, Any] = {":prev": {"N": str(claim.version - 1)}}
        action = self._replace(item, condition, values)
        prior = self._seen_claims.get(claim.id)
        if prior is not None and prior.version == claim.version - 1:
            action["Put"]["ConditionExpression"] += " AND #s = :prior_state"
            action["Put"]["ExpressionAttributeNames"]["#s"] = "state"
            values[":prior_state"] = {"S": prior.state.value}
        return action
