"""Notifications (DESIGN §5-§6): where a target's cards go and how they get there.

- ``settings/``: the settings API (CRUD per channel type).
- ``outbox/``: queueing, the state machine, the delivery flow and the notification log.
- ``cards/``: what a card says, and the card as text, HTML, Slack blocks and a PNG chart.
- ``channels/``: one module per channel behind ``base.Channel``, found in ``registry``.
- ``models.py``: the tables (settings, outbox rows, delivery attempts);
  ``states.py``: the outbox row's states and the attempt outcomes, below the tables.
"""
