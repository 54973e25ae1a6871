"""A target's notification settings over the API: one set of routes per channel type in
``endpoints``, checked by the channel itself (``channels.registry``) in ``service``."""
