"""The ClickHouse event engine: a MergeTree by month, batched inserts, deduplicated re-sends."""
