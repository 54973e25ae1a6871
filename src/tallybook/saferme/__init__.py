"""SaferMe's API v4 (DESIGN §9): teams, channels, forms, report states, reports with their
field values and images, reads and alerts, under ``/api/v4/``."""
