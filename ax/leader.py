"""One active worker at a time: a lock that dies with its process, and the stand-by loop around it.

Several ``ax worker`` processes may point at one database (replicas, a rolling deploy, a stale
one left running). Only the holder of the worker lock runs jobs; the others retry until the
holder is gone. The lock is tied to the holder's process, so a crash or SIGKILL frees it:

- PostgreSQL: ``pg_try_advisory_lock`` on a dedicated connection kept for the life of the leader;
  the server drops the lock when that connection closes.
- SQLite file: ``fcntl.flock`` on ``<database file>.worker.lock``; the kernel drops it on exit.
- In-memory SQLite: no lock needed, no other process can see that database.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

log = logging.getLogger("ax.leader")

# pg_advisory_lock keys are per database; this one means "the AX worker" ("AXWORK" in ASCII).
WORKER_LOCK_KEY = 0x4158574F524B

# Notice a silently dead server (cable pulled, VM gone) in about a minute, not TCP's two hours.
_KEEPALIVE = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}


class WorkerLock(Protocol):
    def try_acquire(self) -> bool:
        """Take the lock if it is free; False (never an exception) when it is not."""

    def is_held(self) -> bool:
        """Whether this process still holds the lock (a cheap check, run periodically)."""

    def release(self) -> None:
        """Let go (idempotent), so a standby can take over at once."""


class AdvisoryLock:
    """PostgreSQL session advisory lock on its own connection, outside the engine's pool."""

    def __init__(self, engine: Engine, key: int = WORKER_LOCK_KEY) -> None:
        # Its own engine: a pooled connection could be recycled or pre-pinged away under the lock.
        self._engine = create_engine(engine.url, poolclass=NullPool, connect_args=_KEEPALIVE)
        self._key = key
        self._conn: Connection | None = None
        self._held = False

    def __str__(self) -> str:
        return f"PostgreSQL advisory lock {self._key} on database {self._engine.url.database}"

    def try_acquire(self) -> bool:
        if self._held:
            return True  # pg advisory locks stack; taking it twice would need two unlocks
        try:
            if self._conn is None:
                # Autocommit: a session lock outlives transactions, and an idle open transaction
                # would hold back vacuum for as long as this worker lives.
                self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            query = text("SELECT pg_try_advisory_lock(:key)")
            self._held = bool(self._conn.execute(query, {"key": self._key}).scalar_one())
        except DBAPIError as exc:
            log.warning("cannot reach the database for the worker lock: %s", _first_line(exc))
            self._drop_connection()
        return self._held

    def is_held(self) -> bool:
        if not self._held or self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            log.warning("worker lock connection lost: %s", _first_line(exc))
            self._drop_connection()
        return self._held

    def release(self) -> None:
        if self._held and self._conn is not None:
            with contextlib.suppress(DBAPIError):
                self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
        self._drop_connection()

    def _drop_connection(self) -> None:
        self._held = False
        if self._conn is not None:
            with contextlib.suppress(DBAPIError):
                self._conn.close()
            self._conn = None


class FileLock:
    """An exclusive ``flock`` on a file next to the SQLite database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __str__(self) -> str:
        return f"file lock {self.path}"

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # for whoever wonders which process is active
        self._fd = fd
        return True

    def is_held(self) -> bool:
        """Held, and still on the file others will lock (not one deleted or replaced since)."""
        if self._fd is None:
            return False
        try:
            if os.stat(self.path).st_ino == os.fstat(self._fd).st_ino:
                return True
        except FileNotFoundError:
            pass
        log.warning("%s was removed or replaced", self)
        self.release()
        return False

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


class NoLock:
    """In-memory SQLite: only this process can see the database, so it is always the leader."""

    def __str__(self) -> str:
        return "no lock (in-memory database)"

    def try_acquire(self) -> bool:
        return True

    def is_held(self) -> bool:
        return True

    def release(self) -> None:
        pass


def worker_lock(engine: Engine) -> WorkerLock:
    """The right lock for the engine's database."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    database = engine.url.database
    if not database or database == ":memory:" or "mode=memory" in database:
        return NoLock()
    return FileLock(Path(f"{database}.worker.lock"))


def lead(
    lock: WorkerLock,
    activate: Callable[[], Callable[[], None]],
    *,
    standby_seconds: float,
    stop: threading.Event | None = None,
) -> None:
    """Stand by until ``lock`` is ours, then ``activate()`` (which returns how to deactivate).

    While active, check the lock every ``standby_seconds``; once it is lost, deactivate and stand
    by again. Returns when ``stop`` is set (deactivating and releasing first).
    """
    stop = stop or threading.Event()
    standing_by = False
    while not stop.is_set():
        if not lock.try_acquire():
            if not standing_by:
                log.info("standing by: another worker is active (%s)", lock)
                standing_by = True
            stop.wait(standby_seconds)
            continue
        standing_by = False
        log.info("became the active worker (%s)", lock)
        try:
            deactivate = activate()
        except Exception:  # e.g. the database went away during start-up: let another worker try
            log.exception("could not start the jobs; releasing the worker lock and retrying")
            lock.release()
            stop.wait(standby_seconds)
            continue
        try:
            while not stop.wait(standby_seconds):
                if not lock.is_held():
                    log.warning("lost the worker lock (%s): stopping the jobs and standing by", lock)
                    break
        finally:
            deactivate()
            lock.release()


def _first_line(exc: DBAPIError) -> str:
    return (str(exc.orig).strip().splitlines() or ["?"])[0] if exc.orig else str(exc)
