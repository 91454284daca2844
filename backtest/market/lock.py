"""One writer per store: an advisory lock file beside it, and errors that name the holder.

Every command that writes a store (``data build``, ``data import``, ``data fetch``,
``replay --save`` on the runs store) holds :func:`writer_lock` for its whole run. The lock is an
``fcntl.flock`` on ``<store>.lock``, which the kernel releases when the holding process ends,
however it ends (a SIGKILL included), so a crashed writer never leaves a stale lock behind. The
file holds the holder's PID and command, so a second writer is refused with a sentence naming
them::

    data/market.duckdb is in use by PID 4711 (backtest data build); wait for it to finish
    (or stop it) and run this command again

DuckDB keeps a lock of its own on an open database file; :func:`busy_message` turns its
"Conflicting lock is held in ... (PID N)" error into the same sentence.

The lock file is left in place when the writer ends (removing it would let two writers lock two
different files of the same name); it is empty then.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> with writer_lock(folder / "market.duckdb", "doctest"):
...     holder(folder / "market.duckdb")[0] == os.getpid()
True
>>> holder(folder / "market.duckdb") is None
True
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["StoreBusyError", "busy_message", "holder", "lock_path", "writer_lock"]


class StoreBusyError(OSError):
    """Another process is writing the store; the message names it and what to do."""


def lock_path(store: str | Path) -> Path:
    """Return the lock file of ``store`` (``<store>.lock`` beside it)."""
    return Path(f"{store}.lock")


def holder(store: str | Path) -> tuple[int, str] | None:
    """Return ``(pid, command)`` of the process holding ``store``'s writer lock, or None."""
    path = lock_path(store)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 4096).decode("utf-8", "replace")
            return _parse(text)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _parse(text: str) -> tuple[int, str]:
    pid_text, _, command = text.strip().partition(" ")
    try:
        return int(pid_text), command or "unknown command"
    except ValueError:
        return -1, "unknown command"


def _busy(store: str | Path, pid: int, command: str) -> StoreBusyError:
    who = f"PID {pid}" if pid > 0 else "another process"
    return StoreBusyError(
        f"{store} is in use by {who} ({command}); wait for it to finish (or stop it) and run "
        "this command again"
    )


@contextmanager
def writer_lock(store: str | Path, command: str) -> Iterator[None]:
    """Hold ``store``'s writer lock for the block; refuse at once if another process holds it.

    Parameters
    ----------
    store
        The store file the block will write (it need not exist yet).
    command
        What is writing, shown to a second writer (``"backtest data build"``).

    Raises
    ------
    StoreBusyError
        Another process holds the lock; the message names its PID and command.
    PermissionError
        The folder of the store cannot be written (then the store cannot be either).
    """
    if str(store) == ":memory:":
        yield
        return
    path = lock_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 4096).decode("utf-8", "replace")
            raise _busy(store, *_parse(text)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {command}".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


_DUCKDB_PID = re.compile(r"\(PID (\d+)\)")


def busy_message(store: str | Path, error: BaseException) -> StoreBusyError | None:
    """Turn DuckDB's lock-conflict error into a :class:`StoreBusyError`; None for other errors."""
    text = str(error)
    if "lock" not in text.lower() or "conflict" not in text.lower():
        return None
    match = _DUCKDB_PID.search(text)
    pid = int(match.group(1)) if match else -1
    held = holder(store)
    command = held[1] if held is not None and held[0] == pid else "it holds the file open"
    return _busy(store, pid, command)
