from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from reintegra_kit.db import Database, KitTables, define_kit_tables, new_metadata
from sqlalchemy import Column, MetaData, String, Table


class Schema:
    def __init__(self) -> None:
        self.metadata: MetaData = new_metadata()
        self.kit: KitTables = define_kit_tables(self.metadata)
        self.effects = Table("effects", self.metadata, Column("event_id", String(64), primary_key=True))


@pytest.fixture
def schema() -> Schema:
    return Schema()


async def open_db(url: str, schema: Schema) -> Database:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(schema.metadata.create_all)
    return db


@pytest.fixture
async def db(database_url: str, schema: Schema) -> AsyncIterator[Database]:
    """The kit's tables on SQLite and on PostgreSQL: each adapter test runs on both."""
    database = await open_db(database_url, schema)
    yield database
    await database.dispose()
