"""One exception hierarchy for the whole gateway.

The category decides what happens next: validation errors are the user's to fix (exit 2), budget and
ledger errors describe the shared state (exit 3), launch errors concern the compute side (exit 4), and
``GatewayInternalError`` is a bug in the gateway itself (exit 70). Messages say what to do next.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""

    exit_code = 1


class GatewayValidationError(GatewayError):
    """Bad input: a malformed spec, an unknown data set or column, an invalid budget or range."""

    exit_code = 2


class SpecError(GatewayValidationError):
    """The query spec itself is malformed (YAML, unknown field, out-of-range value)."""


class UnknownDatasetError(GatewayValidationError):
    """The spec or command names a data set the ledger does not know."""


class UnknownColumnError(GatewayValidationError):
    """The spec names a column the data set's registered schema does not have."""


class BlockRangeError(GatewayValidationError):
    """The requested blocks do not exist (empty range, missing days, unknown block)."""


class DataNotFoundError(GatewayValidationError):
    """A data set's path does not exist or holds no readable data."""


class BudgetError(GatewayError):
    """Something about privacy budget: a claim that can never fit, or a job that would overspend."""

    exit_code = 3


class BudgetExceededError(BudgetError):
    """A job was asked to spend more than it was granted; the runtime refuses to run it."""


class LedgerError(GatewayError):
    """The ledger could not be read or written as asked."""

    exit_code = 3


class LedgerNotFoundError(LedgerError):
    """No ledger at the given location; create one with ``dpgw init``."""


class LedgerConflictError(LedgerError):
    """A conditional write found the ledger changed under it (another writer got there first)."""


class LedgerUnavailableError(LedgerError):
    """The ledger's storage failed transiently or refused access (throttling, network, credentials)."""


class DuplicateSubmissionError(LedgerError):
    """A client id was reused for a different query."""


class SubmissionNotFoundError(LedgerError):
    """No submission with the given id."""


class LaunchError(GatewayError):
    """The launcher could not start or follow a job."""

    exit_code = 4


class JobFailedError(LaunchError):
    """A job ran and failed; its budget stays charged because it may have read data."""


class LaunchRejectedError(LaunchError):
    """The compute service refused to start the run (concurrency or quota limit, bad job definition).

    A refused start provably never ran, so the gateway releases the claim's budget; submit again later.
    """


class LaunchOutcomeUnknownError(GatewayError):
    """A start request was sent but its answer was lost: the run may or may not exist.

    Deliberately not a ``LaunchError``: the budget must stay reserved until reconciliation finds the run
    (``Launcher.find_run``) or proves there is none.
    """

    exit_code = 4


class EngineNotInstalledError(GatewayError):
    """A DP engine's library is missing from this environment."""

    exit_code = 4

    def __init__(self, engine: str, extra: str) -> None:
        super().__init__(f"The {engine} engine is not installed. Install it with: pip install 'dp-gateway[{extra}]'")
        self.engine = engine
        self.extra = extra


class GatewayInternalError(GatewayError):
    """An invariant the gateway relies on did not hold: this is a bug, please report it."""

    exit_code = 70


class AuthenticationError(GatewayError):
    """No credential, or one the gateway does not accept (unknown or revoked token): HTTP 401."""

    exit_code = 6


class AuthorizationError(GatewayError):
    """A known caller asked for something it may not do (another analyst's name, an operator route): HTTP 403."""

    exit_code = 6


class ResultNotReadyError(GatewayError):
    """The submission has not succeeded (yet), so there is no answer to show."""

    exit_code = 5
