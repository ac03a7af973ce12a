"""The accounts port: the few budget operations a policy needs, whatever the number type.

Policies and the admission pass are written once against ``Accounts``. The ledger implements it over
exact Decimal ``Block`` records (``BlockAccounts``); the simulator over float arrays with one column per
budget dimension (ε, or one RDP order alpha per column), which is what makes a replay of 70,000 claims fast.

Claims with the same blocks, demand and weight are interchangeable for every policy, so the pass works
on ``Group``s of them (members in arrival order). Within one pass unlocked budget only shrinks, so once
the head of a group does not fit, no other member will: the pass costs O(groups + grants), not
O(claims), whenever a workload repeats demands.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

# The block key and the demand type: (str, Budget) in the ledger, (int, float array) in the simulator.
K = TypeVar("K", bound=Hashable)
D = TypeVar("D")
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)
D_contra = TypeVar("D_contra", contravariant=True)
Member = tuple[Any, Any]  # (arrival, claim id): a datetime and a str in the ledger, floats and ints in the simulator


@dataclass(eq=False)
class Group(Generic[K, D]):
    """Pending claims with identical blocks, demand and weight, oldest first."""

    blocks: tuple[K, ...]
    demands: tuple[D, ...]  # one demand per block, aligned with ``blocks``
    weight: float = 1.0
    members: deque[Member] = field(default_factory=deque)
    static_key: tuple[Any, ...] | None = None  # a memo for keys that depend on capacities only (DPF)

    @property
    def head(self) -> Member:
        return self.members[0]


class Accounts(Protocol[K_contra, D_contra]):
    """Per-block unlocked budget and the admission arithmetic of one accounting mode.

    Basic composition: a demand fits a block iff it fits in every dimension. RDP: iff it fits at some
    order alpha (the alpha may differ between blocks); allocation deducts at every alpha either way.
    """

    def shares(self, blocks: Sequence[K_contra], demands: Sequence[D_contra]) -> tuple[Any, ...]:
        """demand/capacity per (block, dimension) with capacity > 0, largest first (the DPF key)."""
        ...

    def fits(self, blocks: Sequence[K_contra], demands: Sequence[D_contra]) -> bool: ...

    def fits_block(self, block: K_contra, demand: D_contra) -> bool: ...

    def allocate(self, blocks: Sequence[K_contra], demands: Sequence[D_contra]) -> None: ...

    def is_retired(self, block: K_contra) -> bool: ...

    def available(self, block: K_contra) -> Sequence[float]:
        """Unlocked budget per dimension as floats (DPack's ordering only; admission stays exact)."""
        ...

    def vector(self, demand: D_contra) -> Sequence[float]:
        """A demand per dimension as floats, aligned with ``available``."""
        ...
