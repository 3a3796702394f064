"""SQLite's write-ahead log checkpointed in a thread of its own, not inside a commit on the event loop.

By default SQLite checkpoints when a commit leaves the WAL longer than 1,000 pages: that commit copies
the log back into the database file and, with ``synchronous=NORMAL``, waits for ``fsync``. The kit runs
SQLite's statements and commits inline on the event loop (ADR 0033), so that commit stopped the whole
service — its requests, its consumer and its relay — for the checkpoint's ~25 ms, once every few hundred
commits (``bench/checkpoints.py``). A :class:`WalCheckpointer` turns the automatic checkpoint off on the
service's connections and runs a ``PASSIVE`` checkpoint every :data:`CHECKPOINT_INTERVAL_S` on a
connection of its own, in a daemon thread: ``sqlite3`` releases the GIL while SQLite works, so the copy
and the ``fsync`` overlap the event loop instead of stopping it (ADR 0034).

A passive checkpoint never waits for a lock and never blocks a reader or a writer; what it cannot copy
(frames a reader still needs, frames committed meanwhile) the next one does. A log grown past
:data:`RESTART_AT_BYTES` is restarted, which keeps writers waiting for one copy and ``fsync``, 16 times
less often than SQLite's own checkpoint did. SQLite itself checkpoints when the last connection to the
file closes.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from .logging import get_logger

log = get_logger(__name__)

CHECKPOINT_INTERVAL_S = 0.5
"""How often the WAL is copied back: at the benchmark's peak, a few hundred KB of log a time."""

RESTART_AT_BYTES = 64 * 1024 * 1024
"""The log's length at which the thread restarts it (16 x SQLite's automatic threshold of 1,000 pages).

SQLite starts the log again from its beginning only when a writer begins after a checkpoint copied
all of it. Under a steady stream of commits, frames arrive during every passive checkpoint's copy and
``fsync``, so the log would only grow. Past this length the thread runs a ``RESTART`` checkpoint,
which waits for the writer's commit, then keeps new writers waiting while it copies the frames the
passive ones left and syncs: the one stall of the loop that remains, 16 times rarer than before."""

RESTART_WAIT_MS = 200
"""How long a restart waits for the writer and the readers (the busy timeout of the thread's connection).

While a restart waits for readers it also keeps new writers waiting, and the service's writers wait
on the event loop: a reader that holds an old snapshot (another process's long query) must not stop
the service for long. A restart that does not get its turn in time gives up; the next interval tries
again, and the log grows meanwhile, as it would under SQLite's own checkpoint."""


class WalCheckpointer:
    """Checkpoints one SQLite file's WAL from a daemon thread; attach :meth:`on_connect` to the engine's
    ``connect`` event (after the WAL is turned on), and :meth:`stop` it where the engine is disposed."""

    def __init__(
        self,
        path: Path,
        *,
        interval_s: float = CHECKPOINT_INTERVAL_S,
        restart_at_bytes: int = RESTART_AT_BYTES,
    ) -> None:
        self.path = path
        self.interval_s = interval_s
        self.restart_at_bytes = restart_at_bytes
        self.checkpoints = 0
        """Checkpoints run so far (for the tests and the benchmark)."""
        self.restarts = 0
        """Of which restarts of a log grown past ``restart_at_bytes``."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def on_connect(self, dbapi_connection: Any, _: Any) -> None:
        """A connection of the service's pool: no automatic checkpoint in its commits; the thread runs."""
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()
        self.start()

    def start(self) -> None:
        """Start the thread, unless it runs (again after :meth:`stop`: a disposed engine reconnects)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name=f"wal-checkpoint {self.path.name}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its current checkpoint."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        # A passive checkpoint never waits for a lock; the timeout bounds a restart's wait for the
        # writer and the readers.
        connection = sqlite3.connect(self.path, timeout=RESTART_WAIT_MS / 1000, isolation_level=None)
        try:
            page_size = connection.execute("PRAGMA page_size").fetchone()[0]
            while not self._stop.wait(self.interval_s):
                try:
                    self._checkpoint(connection, page_size)
                except sqlite3.Error as exc:  # e.g. the file removed under us: say so, keep trying
                    log.warning("db.wal_checkpoint_failed", database=self.path.name, error=repr(exc))
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection, page_size: int) -> None:
        _, frames, _ = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1
        if frames * page_size >= self.restart_at_bytes:
            busy, _, _ = connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            self.checkpoints += 1
            if not busy:  # busy: it gave up waiting (RESTART_WAIT_MS); the next interval tries again
                self.restarts += 1
