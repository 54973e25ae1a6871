"""Time-zone names: the one check that an IANA zone name is real, used by every domain."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def check_timezone(name: str) -> ZoneInfo:
    """The zone of an IANA name such as ``Europe/Helsinki``; ValueError with a sentence for
    anything else (empty, padded, a path, or a name the system does not know)."""
    try:
        if not name or name != name.strip() or ".." in name:
            raise ValueError
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"'{name}' is not an IANA timezone name") from None
