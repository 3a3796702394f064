"""The lifecycle part of the runtime: start-up steps, supervised background tasks, graceful stop, signals."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from fastapi import FastAPI

from ..logging import get_logger

log = get_logger(__name__)

Step = Callable[[], Awaitable[Any]]


class Lifecycle:
    """Runs start-up steps in order, then background tasks for the life of the process; stops them."""

    def __init__(self) -> None:
        self._startup: list[tuple[str, Step]] = []
        self._background: list[tuple[str, Step, asyncio.Event | None]] = []
        self._shutdown: list[tuple[str, Step]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def on_startup(self, name: str, step: Step) -> None:
        """Run ``step`` once at start-up, in registration order, before serving."""
        self._startup.append((name, step))

    def on_shutdown(self, name: str, step: Step) -> None:
        """Run ``step`` at shutdown, after background tasks stopped, in registration order."""
        self._shutdown.append((name, step))

    def background(
        self, name: str, task: Step, *, after: asyncio.Event | None = None, first: bool = False
    ) -> None:
        """Run ``task`` for the life of the process (restarted after a failure; cancelled at stop),
        starting once ``after`` is set (e.g. the broker started); ``first`` puts it before the others."""
        entry = (name, task, after)
        if first:
            self._background.insert(0, entry)
        else:
            self._background.append(entry)

    async def start(self) -> None:
        for name, step in self._startup:
            log.debug("runtime.startup_step", step=name)
            await step()
        for name, task, after in self._background:
            self._tasks.append(asyncio.create_task(self._supervise(name, task, after), name=name))

    async def _supervise(self, name: str, task: Step, after: asyncio.Event | None) -> None:
        if after is not None:
            await after.wait()
        while True:
            try:
                await task()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("runtime.background_failed", task=name, error=repr(exc))
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for name, step in self._shutdown:
            try:
                await step()
            except Exception as exc:
                log.warning("runtime.shutdown_step_failed", step=name, error=repr(exc))


def serve(app: FastAPI, *, host: str, port: int, grace_s: float) -> None:
    """Run the HTTP server until SIGTERM or SIGINT, then shut down gracefully (exit status 0)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(grace_s),
        lifespan="on",
        loop="uvloop",  # the consumers, relay and timers run on this loop too
        http="httptools",
    )
    server = uvicorn.Server(config)
    # uvicorn captures SIGTERM/SIGINT for a graceful exit (lifespan shutdown) and re-raises the
    # signal afterwards; these handlers then turn the finished graceful stop into exit status 0.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_cleanly)
    server.run()


def _exit_cleanly(signum: int, _: Any) -> None:
    raise SystemExit(0)
