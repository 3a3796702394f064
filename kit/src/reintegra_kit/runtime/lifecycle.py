"""The lifecycle part of the runtime: start-up steps, supervised background tasks, graceful stop, signals."""

from __future__ import annotations

import asyncio
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

    async def stop(self, timeout_s: float | None = None) -> None:
        """Cancel the background tasks, then run the shutdown steps, all within ``timeout_s``: a task
        or step that does not finish in time (e.g. waiting for a broker that is gone) is abandoned."""
        deadline = None if timeout_s is None else asyncio.get_running_loop().time() + timeout_s
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=_left(deadline))
            for task in stuck:
                log.warning("runtime.task_not_stopped", task=task.get_name())
        self._tasks.clear()
        for name, step in self._shutdown:
            await bounded(name, step(), _left(deadline))


def _left(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    return max(deadline - asyncio.get_running_loop().time(), 0.0)


async def bounded(name: str, step: Awaitable[Any], timeout_s: float | None) -> bool:
    """Await one stop step for at most ``timeout_s``; False (logged) if it failed or took too long.

    Stopping must end even when the broker or the database is gone: a Kafka client's stop waits for
    its pending requests, which never come back then.
    """
    try:
        await asyncio.wait_for(step, timeout=timeout_s)
        return True
    except TimeoutError:
        log.warning("runtime.shutdown_step_timed_out", step=name, timeout_s=timeout_s)
    except Exception as exc:
        log.warning("runtime.shutdown_step_failed", step=name, error=repr(exc))
    return False


class Deadline:
    """What is left of a time budget, shared by the steps of a graceful stop."""

    def __init__(self, seconds: float) -> None:
        self._end = asyncio.get_running_loop().time() + seconds

    def left(self, share: float = 1.0) -> float:
        """Seconds left (``share`` of them), never negative."""
        return max(self._end - asyncio.get_running_loop().time(), 0.0) * share


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
