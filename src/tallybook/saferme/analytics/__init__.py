"""SaferMe's analytics API v4: nine counts of a channel's reports (DESIGN §9)."""
