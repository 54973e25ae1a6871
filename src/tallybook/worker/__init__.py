"""The background worker (DESIGN §6): a loop of passes over the work due at an instant.

- ``loop``: ``Worker``, one pass after another (``run_pass``, ``run_forever``).
- ``config``: ``WorkerConfig``, the worker's settings read once.
- ``passes/``: one module per kind of background work — claim due rows with a lease,
  hand them to their domain's flow, count what was done. ``targets`` runs
  ``evaluations.flow``; ``deliveries`` runs the notification outbox's delivery.
"""
