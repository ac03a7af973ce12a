"""Data-source adapters: check a data set's location and read its public schema (never its rows)."""

from gateway.sources.files import inspect_columns

__all__ = ["inspect_columns"]
