"""What a notification says: the card as data (``data``), and the card rendered as text,
e-mail HTML, Slack blocks and a PNG chart (``render``). Every channel shows the same card."""
