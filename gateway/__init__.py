"""dp-gateway: a Spark-native differential-privacy job gateway.

Tour: ``gateway.core`` holds the pure model (budgets, blocks, claims, specs, scheduling policies);
``gateway.ledger`` the stores that persist it; ``gateway.engines`` the Tumult Analytics and PipelineDP
adapters; ``gateway.launchers`` what starts jobs; ``gateway.runtime`` the job entry point shipped to
Spark; ``gateway.service`` the use cases the CLI (``gateway.cli``) calls.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
