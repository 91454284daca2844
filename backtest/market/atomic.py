"""Replace a store file whole, or not at all: build beside it, then swap it in.

A rebuild never deletes first. :func:`replace_store` writes the new store into a temporary file
in the target's folder (``.<name>.building-<pid>``), checkpoints and closes it, and only then
renames it over the target with ``os.replace``, which POSIX makes atomic: a process killed at any
moment leaves either the old store, untouched, or the complete new one, never a mixture and
never nothing. Processes that had the old file open keep reading the old market until they close
it. The whole operation holds the store's writer lock (:mod:`backtest.market.lock`), so a second
writer is refused with the first one's PID rather than racing it.

The old file's permissions are respected: a write-protected store (or folder) is refused before
any work is done, and the new file gets the old one's mode bits.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

from backtest.market.lock import writer_lock
from backtest.market.store import Store

__all__ = ["check_writable", "replace_store", "temporary_path"]

T = TypeVar("T")


def temporary_path(target: Path) -> Path:
    """The file a rebuild of ``target`` writes before the swap (same folder, hidden)."""
    return target.with_name(f".{target.name}.building-{os.getpid()}")


def _protected(path: Path) -> bool:
    """True when ``path`` has no write bit for anyone, or this process may not write it.

    The mode bits are read as well as ``os.access``: root may write anything, but a file
    someone made read-only (``chmod a-w``) says "do not replace me", and is respected.
    """
    return stat.S_IMODE(path.stat().st_mode) & 0o222 == 0 or not os.access(path, os.W_OK)


def check_writable(target: Path, what: str = "store") -> None:
    """Refuse, with a sentence, a target file or folder this process may not write."""
    folder = target.parent if str(target.parent) else Path(".")
    if target.exists() and _protected(target):
        raise PermissionError(
            f"{target} is write-protected; it was left as it is. Make it writable "
            f"(chmod u+w {target}) or give another --store to write a new {what}"
        )
    if folder.exists() and (_protected(folder) or not os.access(folder, os.X_OK)):
        raise PermissionError(
            f"cannot write in {folder}: the folder is write-protected; give a --store in a "
            "folder you may write"
        )


def _remove(path: Path) -> None:
    for leftover in (path, Path(f"{path}.wal")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


def _fold_wal(target: Path) -> None:
    """Checkpoint a leftover write-ahead log into ``target`` before the file is replaced.

    A ``.wal`` beside a store holds committed writes of a process that did not close it (killed).
    Left in place after the swap it would belong to the old file; opening the old file once
    replays and removes it.
    """
    if Path(f"{target}.wal").exists():
        con = duckdb.connect(str(target))
        try:
            con.execute("CHECKPOINT")
        finally:
            con.close()


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_store(target: str | Path, fill: Callable[[Store], T], *, command: str) -> T:
    """Build a new store with ``fill`` and swap it in for ``target`` atomically.

    Parameters
    ----------
    target
        The store file to create or replace.
    fill
        Writes the new store's contents (called with an open, empty :class:`Store`); its
        return value is returned. If it raises (or the process is interrupted), the temporary
        file is removed and ``target`` is left exactly as it was.
    command
        What is writing, for the writer lock (``"backtest data build"``).

    Raises
    ------
    StoreBusyError
        Another process holds the target's writer lock (or has it open).
    PermissionError
        The target or its folder is write-protected.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    check_writable(target)
    with writer_lock(target, command):
        if target.exists():
            # DuckDB's own lock: refuse now if another process has the old file open to write
            Store(target, read_only=True).close()
        # leftovers of builds killed earlier (none can be running: we hold the lock)
        for stale in target.parent.glob(f".{target.name}.building-*"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        temporary = temporary_path(target)
        try:
            with Store(temporary) as store:
                value = fill(store)
                store.connection.execute("CHECKPOINT")
            if target.exists():
                _fold_wal(target)
                mode = stat.S_IMODE(target.stat().st_mode)
                os.chmod(temporary, mode)
            with open(temporary, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(temporary, target)
            _fsync_folder(target.parent)
        except BaseException:
            _remove(temporary)
            raise
    return value
