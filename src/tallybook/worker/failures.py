"""The worker's log, and how a failure is written to it."""

from __future__ import annotations

import logging
import os
import traceback

log = logging.getLogger("tallybook.worker")


def log_failure(message: str, exc: BaseException, **context: str) -> None:
    """The exception's type and where it was raised; never its text (it may hold data)."""
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f"{os.path.basename(frame.filename)}:{frame.lineno}" if frame else "?"
    log.error(message, extra={"error_type": type(exc).__name__, "at": where, **context})
