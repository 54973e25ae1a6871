"""Several processes on one installation (issue 13, item 4): ``serve --workers N`` and
separate ``tallybook worker`` processes, allowed when the event store is a server and
refused, in one sentence, with the embedded DuckDB file. The real command runs in a process
of its own."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

SECRET = "test-secret-key-not-for-production"


def _environment(tmp_path: Path, **env: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TALLYBOOK_")}
    return {**clean, "TALLYBOOK_DATA_DIR": str(tmp_path / "data"), **env}


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tallybook", *args],
        env=_environment(tmp_path, **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _refused(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("error: ")
    assert "TALLYBOOK_EVENTS_URL" in lines[0] and "PostgreSQL" in lines[0]
    return lines[0]


@pytest.mark.parametrize("events_url", [None, "duckdb:///events.duckdb", "chdb:///clickhouse"])
def test_serve_with_several_processes_on_duckdb_is_refused(
    tmp_path: Path, events_url: str | None
) -> None:
    env = {} if events_url is None else {"TALLYBOOK_EVENTS_URL": events_url}
    sentence = _refused(_run(tmp_path, "serve", "--workers", "2", "--port", "1", **env))
    assert "--workers 2" in sentence
    assert not (tmp_path / "data" / "events.duckdb").exists()  # refused before opening it
    assert not (tmp_path / "clickhouse").exists()


@pytest.mark.parametrize("events_url", [None, "DUCKDB:///events.duckdb", "chdb:///clickhouse"])
def test_a_separate_worker_on_duckdb_is_refused(tmp_path: Path, events_url: str | None) -> None:
    env = {} if events_url is None else {"TALLYBOOK_EVENTS_URL": events_url}
    _refused(_run(tmp_path, "worker", **env))


def test_workers_must_be_a_positive_count(tmp_path: Path) -> None:
    result = _run(tmp_path, "serve", "--workers", "0")
    assert result.returncode == 2
    assert "--workers" in result.stderr and "Traceback" not in result.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Lines:
    """A process's stderr, read by a thread as it comes (the pipe never fills)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stderr is not None
        stream = process.stderr
        self.thread = threading.Thread(target=lambda: self.lines.extend(stream), daemon=True)
        self.thread.start()

    def pids_answering(self, path: str) -> set[int]:
        pids = set()
        for line in list(self.lines):
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("message") == "request" and entry.get("path") == path:
                pids.add(entry["pid"])
        return pids


@contextmanager
def _serving(
    tmp_path: Path, url: str, *args: str
) -> Iterator[tuple[str, subprocess.Popen[str], _Lines]]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tallybook", "serve", "--port", str(port), *args],
        env=_environment(
            tmp_path,
            TALLYBOOK_DATABASE_URL=url,
            TALLYBOOK_EVENTS_URL=url,
            TALLYBOOK_SECRET_KEY=SECRET,
        ),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = _Lines(process)
    try:
        yield f"http://127.0.0.1:{port}", process, lines
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def _wait_until_up(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "serve exited"
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("serve did not answer in time")


def test_serve_with_two_processes_on_postgresql_answers_from_both_and_stops_cleanly(
    tmp_path: Path, postgres_url: str
) -> None:
    with _serving(tmp_path, postgres_url, "--workers", "2") as (base, process, lines):
        _wait_until_up(base, process)
        deadline = time.monotonic() + 60
        while len(lines.pids_answering("/healthz")) < 2 and time.monotonic() < deadline:
            # A new connection each time, several at once: the kernel hands the accepts
            # to whichever process is waiting.
            threads = [
                threading.Thread(target=lambda: httpx.get(f"{base}/healthz", timeout=10))
                for _ in range(8)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            time.sleep(0.1)
        assert len(lines.pids_answering("/healthz")) == 2
        assert process.pid not in lines.pids_answering("/healthz")  # the parent only watches
        ready = httpx.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    lines.thread.join(timeout=10)
    text = "".join(lines.lines)
    assert "Traceback" not in text
    assert SECRET not in text
    assert "tallybook worker" in text  # the operator is told where the background work goes
