"""The handler contract: dependencies by name, one unit of work per command, handlers never commit."""

from __future__ import annotations

from typing import Any

import pytest
from reintegra_kit.clock import Clock, ManualClock
from reintegra_kit.db import Database
from reintegra_kit.domain import ConflictError
from reintegra_kit.handlers import Dependencies, MessageBus
from reintegra_kit.outbox import Outbox
from reintegra_kit.uow import HandlerCommitError, UnitOfWork
from sqlalchemy import func, insert, select

from .conftest import Schema


class Touch:
    def __init__(self, key: str) -> None:
        self.key = key


def bus(db: Database, schema: Schema, **deps: Any) -> MessageBus[UnitOfWork]:
    outbox = Outbox(schema.kit, "/test")
    return MessageBus(lambda: UnitOfWork(db, outbox), Dependencies(clock=ManualClock(), **deps))


async def effects(db: Database, schema: Schema) -> int:
    async with db.session() as s:
        return int((await s.execute(select(func.count()).select_from(schema.effects))).scalar_one())


def test_a_missing_dependency_fails_when_the_handler_is_wired_not_at_the_first_message() -> None:
    async def handler(cmd: Touch, uow: UnitOfWork, directory: object) -> None:
        return None

    with pytest.raises(TypeError, match="needs directory"):
        Dependencies(clock=ManualClock()).bind(handler)
    with pytest.raises(TypeError, match="must take"):
        Dependencies().bind(lambda cmd: None)


async def test_the_bus_commits_after_the_handler_and_returns_its_result(db: Database, schema: Schema) -> None:
    async def touch(cmd: Touch, uow: UnitOfWork, clock: Clock) -> str:
        await uow.session.execute(insert(schema.effects).values(event_id=cmd.key))
        return f"{cmd.key} at {clock.now().year}"

    b = bus(db, schema)
    b.register({Touch: touch})
    assert await b.handle(Touch("k1")) == "k1 at 2026"
    assert await effects(db, schema) == 1


async def test_a_refused_command_leaves_nothing_behind(db: Database, schema: Schema) -> None:
    async def refuse(cmd: Touch, uow: UnitOfWork) -> None:
        await uow.session.execute(insert(schema.effects).values(event_id=cmd.key))
        raise ConflictError("already done")

    b = bus(db, schema)
    b.register({Touch: refuse})
    with pytest.raises(ConflictError, match="already done"):
        await b.handle(Touch("k1"))
    assert await effects(db, schema) == 0


async def test_a_handler_that_commits_is_stopped(db: Database, schema: Schema) -> None:
    async def commits(cmd: Touch, uow: UnitOfWork) -> None:
        await uow.commit()

    b = bus(db, schema)
    b.register({Touch: commits})
    with pytest.raises(HandlerCommitError):
        await b.handle(Touch("k1"))


def test_a_command_has_one_handler() -> None:
    async def one(cmd: Touch, uow: UnitOfWork) -> None:
        return None

    b: MessageBus[UnitOfWork] = MessageBus(lambda: None, Dependencies())  # type: ignore[arg-type,return-value]
    b.register({Touch: one})
    with pytest.raises(TypeError, match="already has a handler"):
        b.register({Touch: one})
