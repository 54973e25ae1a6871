"""Report exports (DESIGN §8, seed 004): chat logs and daily statistics of a room as files,
made by the worker and downloaded through signed, expiring links."""
