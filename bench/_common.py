"""Helpers shared by the event-store benchmarks."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import socket
import time
from pathlib import Path


def machine() -> str:
    cores = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"{cores} cores, {memory:.0f} GB RAM, Python {platform.python_version()}, "
        f"load average before the run {load}"
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now (the kernel's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def remove_database(path: Path) -> None:
    for candidate in (path, path.with_name(path.name + ".wal")):
        candidate.unlink(missing_ok=True)


class Clock:
    """Wall and process CPU time of a block (CPU counts all of DuckDB's threads)."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants alive now (e.g. ``serve --workers N``'s processes)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                pending.extend(int(child) for child in task.read_text().split())
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of the process and its descendants alive now, with what their children
    that have exited and been waited for used (a PostgreSQL server's ended backends)."""
    total = 0.0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(field) for field in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def postmaster_pid(port: int) -> int | None:
    """The PostgreSQL server listening on ``port`` on this machine, by its command line."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            args = (entry / "cmdline").read_bytes().split(b"\0")
            listening = b"-p" in args and args[args.index(b"-p") + 1] == str(port).encode()
            if args[0].endswith(b"postgres") and listening:
                return int(entry.name)
    return None


def tree_peak_rss_mb(pid: int) -> float:
    """The peak resident memory (VmHWM) of the process and its descendants, summed."""
    total = 0.0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
    return total


def busy_jiffies() -> tuple[int, int]:
    """The machine's (busy, total) CPU time so far, in clock ticks, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


_LENGTH = b"\r\ncontent-length:"


class KeepAlive:
    """One keep-alive HTTP/1.1 connection that sends requests made once, as bytes
    (:func:`http_request`), and reads each answer by its ``Content-Length``: a few tens of
    microseconds of client CPU per request where ``http.client`` takes 0.2 ms, so that a
    load generator on the same machine takes as little as it can from the server it
    times. Answers without a length (chunked) are not supported; ``tallybook serve``
    gives the length of every JSON answer."""

    def __init__(self, host: str, port: int, timeout: float = 60) -> None:
        self._address = (host, port)
        self._timeout = timeout
        self._socket: socket.socket | None = None
        self._pending = b""

    def send(self, request: bytes) -> int:
        """Sends ``request`` and reads its answer whole; returns the status. Any error
        closes the connection (the next request opens another) and is raised."""
        try:
            return self._exchange(request)
        except BaseException:
            self.close()
            raise

    def _exchange(self, request: bytes) -> int:
        if self._socket is None:
            self._socket = socket.create_connection(self._address, timeout=self._timeout)
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.sendall(request)
        received = self._pending
        while (end := received.find(b"\r\n\r\n")) < 0:
            received += self._read()
        head, body = received[:end].lower(), received[end + 4 :]
        found = head.find(_LENGTH)
        if found < 0:
            raise OSError("an answer without a Content-Length")
        stop = head.find(b"\r\n", found + len(_LENGTH))
        length = int(head[found + len(_LENGTH) : stop if stop >= 0 else None])
        while len(body) < length:
            body += self._read()
        self._pending = body[length:]
        return int(head[9:12])

    def _read(self) -> bytes:
        assert self._socket is not None
        chunk = self._socket.recv(65536)
        if not chunk:
            raise OSError("the server closed the connection")
        return chunk

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._socket, self._pending = None, b""


def http_request(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """An HTTP/1.1 request to loopback, as :class:`KeepAlive` sends it."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
