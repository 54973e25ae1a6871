from __future__ import annotations

import uuid

from tallybook.kit.errors import NotFound


def parse_id(raw: str, what: str) -> uuid.UUID:
    """A path id; one that is not a UUID names nothing, so it is a 404 like any other."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"No such {what}.") from None
