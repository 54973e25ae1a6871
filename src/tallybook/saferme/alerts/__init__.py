"""Alerts of a report to a user: SaferMe's notifications (``/api/v4/notifications``)."""
