"""The notifications package keeps its layering: it never imports evaluations, and inside
it channels and cards never reach up into settings or the outbox."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tallybook.notifications
from tallybook.notifications.channels.registry import CHANNELS, ChannelType

PACKAGE = Path(tallybook.notifications.__file__).parent


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        (".", ("tallybook.evaluations",)),
        ("cards", ("tallybook.notifications.channels", "tallybook.notifications.settings")),
        ("cards", ("tallybook.notifications.outbox",)),
        ("channels", ("tallybook.notifications.settings", "tallybook.notifications.outbox")),
    ],
)
def test_modules_do_not_import_upwards(folder: str, forbidden: tuple[str, ...]) -> None:
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        bad = [m for m in _imports(path) if m.startswith(forbidden)]
        assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


def test_every_channel_type_has_a_channel() -> None:
    assert set(CHANNELS) == set(ChannelType)
    for channel in CHANNELS.values():
        assert set(channel.address_fields) <= set(channel.setting_fields)
