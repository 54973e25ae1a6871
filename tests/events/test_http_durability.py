"""An acknowledged event survives `kill -9` of the server right after the 200."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

TALLYBOOK = [sys.executable, "-m", "tallybook"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [*TALLYBOOK, "serve", "--no-worker", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    pytest.fail("the server did not start")


def _admin(env: dict[str, str], *args: str) -> dict[str, str]:
    out = subprocess.run(
        [*TALLYBOOK, "admin", *args, "--json"], env=env, check=True, capture_output=True
    )
    return dict(json.loads(out.stdout))


@pytest.mark.slow
@pytest.mark.parametrize("with_ids", [True, False])
def test_acknowledged_events_survive_kill_9(tmp_path: Path, with_ids: bool) -> None:
    env = {**os.environ, "TALLYBOOK_DATA_DIR": str(tmp_path), "TALLYBOOK_LOG_LEVEL": "warning"}
    org = _admin(env, "create-org", "--name", "Durable")["id"]
    user = _admin(
        env, "create-user", "--org", org, "--email", "d@example.com", "--permission", "reporting"
    )["id"]
    token = _admin(env, "create-token", "--user", user)["token"]
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    events = [
        {
            "event_version": 1,
            "vendor": "v",
            "category": "c",
            "action": "a",
            "label": "l",
            "organization_id": org,
            "timestamp": "2021-07-22T12:00:00Z",
            **({"id": str(uuid.uuid4())} if with_ids else {}),
        }
        for _ in range(500)
    ]
    server = _start(env, port)
    try:
        response = httpx.post(f"{base}/events/v2/store/untrusted", json={"events": events})
        assert response.json() == {"stored": 500, "duplicates": 0}
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
    server = _start(env, port)
    try:
        query = {
            "vendor": "v",
            "aggregations": ["count"],
            "interval": {"start": "2021-07-22T00:00:00Z", "end": "2021-07-23T00:00:00Z"},
        }
        response = httpx.post(
            f"{base}/api/events/v2/orgs/{org}/fetch",
            json=query,
            headers={"Authorization": f"Token {token}"},
        )
        assert response.json()["data"][0][-1] == 500
        again = httpx.post(f"{base}/events/v2/store/untrusted", json={"events": events})
        assert again.json() == (
            {"stored": 0, "duplicates": 500} if with_ids else {"stored": 500, "duplicates": 0}
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
