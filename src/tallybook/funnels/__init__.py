"""Workflow reporting (DESIGN §7, seeds 001 and 002): the events behind each step of a
workflow's funnel and the goals a workflow affected, read from the event store as SQL."""
