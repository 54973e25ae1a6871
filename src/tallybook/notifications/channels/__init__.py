"""Delivery channels: one module each (``bar``, ``slack``, ``email``) implementing
``base.Channel``, listed by channel type in ``registry``."""
