"""The outbox: one row per card per setting, delivered by the worker.

``queue`` queues and claims rows, ``states`` holds the states and every transition,
``delivery`` is the flow (prepare → send → record) over the channels, ``log`` and
``endpoints`` show a target's notifications.
"""
