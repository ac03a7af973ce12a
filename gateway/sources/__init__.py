"""Data-source adapters: check a data set's location and read its public schema (never its rows).

The schema readers (``files``, ``s3``) import pyarrow; import them where a schema is read, not here.
"""
