"""The deployment files (Dockerfile, deploy/compose.yaml) name commands, options, settings
and paths that exist: checked here since the images cannot be built in the test run."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tallybook.app import ROUTERS
from tallybook.cli import app
from tallybook.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
TALLYBOOK_SERVICES = {
    name: service
    for name, service in COMPOSE["services"].items()
    if service.get("image", "").startswith("tallybook")
}


def _instruction(name: str) -> list[str]:
    (line,) = [line for line in DOCKERFILE.splitlines() if line.startswith(f"{name} ")]
    value: list[str] = json.loads(line.split(" ", 1)[1])
    return value


def _defaults(words: list[str]) -> list[str]:
    """``${NAME:-2}`` as its default, as compose would without the variable."""
    return [re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", word) for word in words]


def _accepted(words: list[str]) -> None:
    result = CliRunner().invoke(app, [*words, "--help"])
    assert result.exit_code == 0, (words, result.output)


def test_the_image_runs_tallybook_serve_by_default() -> None:
    assert _instruction("ENTRYPOINT") == ["tallybook"]
    assert _instruction("CMD") == ["serve"]
    _accepted(_instruction("CMD"))
    assert "USER tallybook" in DOCKERFILE  # not root
    assert "/healthz" in DOCKERFILE
    paths = {route.path for router in ROUTERS for route in router.routes}  # type: ignore[attr-defined]
    assert "/healthz" in paths


@pytest.mark.parametrize("name", sorted(TALLYBOOK_SERVICES))
def test_every_compose_command_is_a_tallybook_command(name: str) -> None:
    _accepted(_defaults(TALLYBOOK_SERVICES[name]["command"]))


def test_the_compose_settings_exist() -> None:
    fields = {f"TALLYBOOK_{field.upper()}" for field in Settings.model_fields}
    for service in TALLYBOOK_SERVICES.values():
        for variable in service["environment"]:
            if variable.startswith("TALLYBOOK_"):
                assert variable in fields, variable
    assert {"api", "worker", "migrate", "postgres", "clickhouse", "objects"} <= set(
        COMPOSE["services"]
    )
