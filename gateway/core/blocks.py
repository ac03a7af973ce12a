"""Privacy blocks: one per period of a data set, each with its own budget accounts.

A block is a *day* of a time-partitioned data set (``day`` set, key ``NAME/YYYY-MM-DD``) or a
*version* of a snapshot data set (``data_version`` set, key ``NAME/version=LABEL``); nothing else
about a block depends on which, so every policy treats both alike.

A block's capacity splits into four accounts (PrivateKube's εG = εL + εU + εA + εC): *locked*
(not yet released by the policy), *unlocked* (admittable now), *allocated* (reserved by admitted
claims whose jobs have not finished, or accumulated by claims waiting under round robin: ``held``)
and *consumed* (spent by finished jobs). Locked is derived.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.core.budget import Budget
from gateway.core.datasets import VERSION_PARTITION, Dataset, check_version_label
from gateway.core.spec import BlockSelection
from gateway.errors import BlockRangeError, GatewayInternalError, GatewayValidationError


def block_key(dataset: str, day: dt.date) -> str:
    return f"{dataset}/{day.isoformat()}"


def version_key(dataset: str, label: str) -> str:
    """A snapshot version's block key: ``NAME/version=LABEL`` (labels hold no '/', so keys are unique)."""
    return f"{dataset}/{VERSION_PARTITION}={label}"


@dataclass(frozen=True, slots=True)
class Block:
    dataset: str
    day: dt.date | None  # None for a snapshot version's block (then ``data_version`` names it)
    capacity: Budget
    unlocked: Budget
    allocated: Budget
    consumed: Budget
    arrivals: int = 0
    retired: bool = False
    version: int = 1
    created_at: dt.datetime | None = None  # when the ledger added it: time-based policies unlock from here
    held: dict[str, Budget] = field(default_factory=dict)  # round robin: budget accumulated per waiting claim
    guarantee: Budget | None = None  # rdp accounting: the (εG, δG) the capacity curve was made from
    data_version: str | None = None  # a snapshot's version label (then ``day`` is None)

    def __post_init__(self) -> None:
        if (self.day is None) == (self.data_version is None):
            raise GatewayInternalError(f"a block of {self.dataset!r} is either a day or a version, not both or none")

    @property
    def key(self) -> str:
        if self.data_version is not None:
            return version_key(self.dataset, self.data_version)
        assert self.day is not None
        return block_key(self.dataset, self.day)

    @property
    def label(self) -> str:
        """What views show for the block: its day (``2026-10-01``) or its version (``v=LABEL``)."""
        return self.day.isoformat() if self.day is not None else f"v={self.data_version}"

    @property
    def added_at(self) -> dt.datetime:
        """Where time-based unlocking starts: when the ledger added it (old day blocks: their day's midnight)."""
        if self.created_at is not None:
            return self.created_at
        if self.day is None:  # a version block is always stamped when added
            raise GatewayInternalError(f"block {self.key} has no creation time")
        return dt.datetime.combine(self.day, dt.time(), dt.UTC)

    @property
    def order(self) -> tuple[Any, ...]:
        """Sort key: days in time order; versions in the order they were added (then by label)."""
        if self.day is not None:
            return (0, self.day, "")
        return (1, self.created_at or dt.datetime.min.replace(tzinfo=dt.UTC), self.data_version)

    @property
    def locked(self) -> Budget:
        return self.capacity - self.unlocked - self.allocated - self.consumed

    @property
    def final(self) -> bool:
        """Retired with nothing locked: no budget will ever be unlocked again.

        Retired alone is not enough: under ``release_to="locked"`` (note Q6) a returned reservation re-locks
        budget on a retired block, and the policy's next unlock step releases it again.
        """
        return self.retired and self.locked.is_zero()

    @property
    def remaining(self) -> Budget:
        """Budget not yet promised to any job: locked + unlocked."""
        return self.capacity - self.allocated - self.consumed

    def check(self) -> Block:
        """The accounting invariant; a violation is a gateway bug, never user error."""
        if self.capacity.is_curve:
            # RDP: allocation deducts at every order, so unlocked may go below zero at orders the block
            # no longer serves; what must hold is that some order still has used <= capacity.
            parts: tuple[Budget, ...] = (self.allocated, self.consumed, self.locked)
            used = self.allocated + self.consumed
            if not used.admissible_in(self.capacity):
                raise GatewayInternalError(f"block {self.key} is over its capacity at every order: {self.to_json()}")
        else:
            parts = (self.unlocked, self.allocated, self.consumed, self.locked)
        if not all(p.is_non_negative() for p in parts):
            raise GatewayInternalError(f"block {self.key} has a negative account: {self.to_json()}")
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "day": self.day.isoformat() if self.day is not None else None,
            "capacity": self.capacity.to_json(),
            "unlocked": self.unlocked.to_json(),
            "allocated": self.allocated.to_json(),
            "consumed": self.consumed.to_json(),
            "arrivals": self.arrivals,
            "retired": self.retired,
            "version": self.version,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "held": {claim: amount.to_json() for claim, amount in self.held.items()},
            **({"guarantee": self.guarantee.to_json()} if self.guarantee is not None else {}),
            **({"data_version": self.data_version} if self.data_version is not None else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Block:
        return cls(
            dataset=data["dataset"],
            day=dt.date.fromisoformat(data["day"]) if data.get("day") is not None else None,
            capacity=Budget.from_json(data["capacity"]),
            unlocked=Budget.from_json(data["unlocked"]),
            allocated=Budget.from_json(data["allocated"]),
            consumed=Budget.from_json(data["consumed"]),
            arrivals=int(data["arrivals"]),
            retired=bool(data["retired"]),
            version=int(data["version"]),
            created_at=dt.datetime.fromisoformat(data["created_at"]) if data.get("created_at") else None,
            held={claim: Budget.from_json(amount) for claim, amount in (data.get("held") or {}).items()},
            guarantee=Budget.from_json(data["guarantee"]) if data.get("guarantee") else None,
            data_version=check_version_label(data["data_version"]) if data.get("data_version") is not None else None,
        )


MAX_RANGE_DAYS = 36_600  # a hundred years of daily blocks: the most one range may name


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    if start > end:
        raise BlockRangeError(f"empty block range: {start} is after {end}")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise BlockRangeError(
            f"the range {start}..{end} has {(end - start).days + 1} days; one range may hold at most "
            f"{MAX_RANGE_DAYS:,} (about 100 years): split it"
        )
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def resolve_selection(dataset: str, selection: BlockSelection, existing: Iterable[dt.date]) -> tuple[dt.date, ...]:
    """The exact blocks a spec reads; every requested block must exist (no silent partial ranges)."""
    days = sorted(set(existing))
    if not days:
        raise BlockRangeError(
            f"data set {dataset!r} has no privacy blocks yet; add them with: dpgw blocks add {dataset} ..."
        )
    if selection.last is not None:
        if selection.last > len(days):
            raise BlockRangeError(
                f"asked for the last {selection.last} blocks of {dataset!r} but it has only {len(days)} "
                f"({days[0]}..{days[-1]})"
            )
        return tuple(days[-selection.last :])
    assert selection.from_ is not None and selection.to is not None
    wanted = days_between(selection.from_, selection.to)
    have = set(days)
    missing = [d for d in wanted if d not in have]
    if len(missing) == len(wanted):
        raise BlockRangeError(
            f"no privacy blocks of {dataset!r} in {selection.from_}..{selection.to}; "
            f"its blocks cover {days[0]}..{days[-1]}"
        )
    if missing:
        shown = ", ".join(d.isoformat() for d in missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise BlockRangeError(
            f"{len(missing)} day(s) in {selection.from_}..{selection.to} have no privacy block ({shown}); "
            f"narrow the range or add them with: dpgw blocks add {dataset} --from ... --to ..."
        )
    return tuple(wanted)


def resolve_blocks(
    dataset: Dataset, selection: BlockSelection, blocks: Iterable[Block], retired: Iterable[dt.date] = ()
) -> tuple[str, ...]:
    """The keys of the blocks a spec reads: days of a dated data set, one version of a snapshot.

    ``retired`` are days whose blocks left the live state: a selection counts them as if they were live
    (so ``last: K`` means the same days), and the claim naming one is rejected by the scheduler.

    A day range on a snapshot, or a version on a dated data set, is refused with the form that fits.
    """
    blocks = list(blocks)
    if dataset.snapshot:
        if not selection.by_version:
            raise GatewayValidationError(
                f"blocks: data set {dataset.name!r} is a snapshot (one block per version, no days); select a "
                "version with blocks: {version: LABEL} or blocks: latest"
            )
        versions = sorted((b for b in blocks if b.data_version is not None), key=lambda b: b.order)
        if not versions:
            raise BlockRangeError(
                f"snapshot {dataset.name!r} has no version blocks yet; add one with: dpgw blocks add "
                f"{dataset.name} --version LABEL --epsilon E"
            )
        if selection.latest:
            return (versions[-1].key,)
        assert selection.version is not None
        key = version_key(dataset.name, selection.version)
        if key not in {b.key for b in versions}:
            shown = ", ".join(b.data_version or "" for b in versions[-5:])
            raise BlockRangeError(
                f"snapshot {dataset.name!r} has no block for version {selection.version!r} (latest versions: "
                f"{shown}); pick one of them or blocks: latest"
            )
        return (key,)
    if selection.by_version:
        raise GatewayValidationError(
            f"blocks: data set {dataset.name!r} has one block per day (time column {dataset.time_column}), not "
            "versions; select days with blocks: {last: K} or {from: YYYY-MM-DD, to: YYYY-MM-DD}"
        )
    days = resolve_selection(dataset.name, selection, [*(b.day for b in blocks if b.day is not None), *retired])
    return tuple(block_key(dataset.name, d) for d in days)


def new_blocks(
    dataset: str, days: Sequence[dt.date], capacity: Budget, unlocked: Budget, guarantee: Budget | None = None
) -> list[Block]:
    zero = Budget()
    return [Block(dataset, day, capacity, unlocked, zero, zero, guarantee=guarantee).check() for day in days]
