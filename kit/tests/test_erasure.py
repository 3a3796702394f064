"""The erased-case record every service keeps: recorded once, read back as it was, extra columns kept."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from reintegra_contracts.codelists import ErasureReason
from reintegra_contracts.events.reception import ReturneeErased
from reintegra_kit.db import Database
from reintegra_kit.erasure import ErasedCase, ErasedCaseRepository, define_erased_cases
from reintegra_kit.outbox import Outbox
from reintegra_kit.uow import UnitOfWork
from sqlalchemy import Column, String, select

from .conftest import Schema, open_db


@pytest.fixture
def schema() -> Schema:
    schema = Schema()
    define_erased_cases(
        schema.metadata,
        comment="why this service keeps them",
        extra_columns=(Column("country", String(2), nullable=True),),
    )
    return schema


async def test_an_erased_case_is_recorded_once_and_read_back(database_url: str, schema: Schema) -> None:
    db: Database = await open_db(database_url, schema)
    table = schema.metadata.tables["erased_cases"]
    event = ReturneeErased(
        case_id=uuid4(),
        returnee_id=uuid4(),
        erased_at=datetime(2026, 3, 1, 9, tzinfo=UTC),
        reason=ErasureReason.SUBJECT_REQUEST,
    )
    erased = ErasedCase.of(event, datetime(2026, 3, 1, 10, tzinfo=UTC))
    try:
        async with UnitOfWork(db, Outbox(schema.kit, "/test")) as uow:
            repo = ErasedCaseRepository(uow, table)
            assert await repo.get(event.case_id) is None
            assert await repo.add(erased, country="ML")
            assert not await repo.add(erased, country="SN")  # a re-sent erasure changes nothing
            with pytest.raises(ValueError, match="no column centre"):
                await repo.add(erased, centre="x")
            assert await repo.get(event.case_id) == erased
            assert (await uow.session.execute(select(table.c.country))).scalars().all() == ["ML"]
            await uow.commit()
    finally:
        await db.dispose()
    assert table.comment == "why this service keeps them"
