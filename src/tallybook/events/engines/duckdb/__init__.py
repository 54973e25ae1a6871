"""The embedded DuckDB engine: ``store`` (the engine), ``schema`` (DDL and schema
versions), ``bulk`` (loading NDJSON and Parquet files)."""
