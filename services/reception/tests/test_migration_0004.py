"""Migration 0004 encrypts the personal data already stored and turns stored identity keys into blind
indexes; the people registered before are then read, matched and announced as before."""

from __future__ import annotations

import asyncio
import base64
import os
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from alembic import command
from reintegra_kit.clock import ManualClock
from reintegra_kit.migrations import alembic_config
from reintegra_kit.testing.handlers import HandlerHarness
from reintegra_reception.bootstrap import MIGRATIONS, SPEC
from reintegra_reception.crypto import ReceptionKeys
from reintegra_reception.domain import MatchPolicy, PersonalData, RegisterArrival
from reintegra_reception.domain.commands import Actor, PersonalDataPurpose, ReadPersonalData
from reintegra_reception.domain.identity import blocking_keys, identity_of
from reintegra_reception.handlers import register_arrival
from reintegra_reception.orm import cases, identity_keys, kit_tables, returnees
from reintegra_reception.privacy import read_personal_data
from reintegra_reception.repository import ReceptionUnitOfWork
from sqlalchemy.ext.asyncio import create_async_engine

from .test_domain import facts

returnees_0003 = sa.table(
    "returnees",
    sa.column("returnee_id", sa.Uuid()),
    sa.column("given_names", sa.String()),
    sa.column("family_names", sa.String()),
    sa.column("date_of_birth", sa.Date()),
    sa.column("document_number", sa.String()),
    sa.column("phone", sa.String()),
    sa.column("sex", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
"""The returnees table as revision 0003 left it (personal data in plain columns)."""

BORN = date(1994, 3, 17)
MARTA = PersonalData("Marta Lidia", "Zelaya Pineda", BORN, "0501-1994-77777", "+504 9999-0000")
REGISTERED = datetime(2025, 6, 1, 12, tzinfo=UTC)


async def plaintext_database(url: str) -> tuple[str, str]:
    """A database at revision 0003 holding one returnee (plaintext), her keys and her case."""
    await asyncio.to_thread(command.upgrade, alembic_config(MIGRATIONS, url), "0003")
    returnee_id, case_id = uuid4(), uuid4()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                returnees_0003.insert().values(
                    returnee_id=returnee_id,
                    given_names=MARTA.given_names,
                    family_names=MARTA.family_names,
                    date_of_birth=BORN,
                    document_number=MARTA.document_number,
                    phone=MARTA.phone,
                    sex="female",
                    created_at=REGISTERED,
                )
            )
            keys = blocking_keys(identity_of(MARTA, sex="female", country="HN"))
            await conn.execute(identity_keys.insert(), [{"key": k, "returnee_id": returnee_id} for k in keys])
            await conn.execute(
                cases.insert().values(
                    case_id=case_id,
                    returnee_id=returnee_id,
                    arrived_at=REGISTERED,
                    port_of_entry="HN-SAP",
                    reception_centre="HN-CAMR-SPS",
                    destination_municipality="HN-0501",
                    age=31,
                    return_type="forced",
                    transport_mode="air",
                    vulnerabilities="[]",
                    immediate_needs="[]",
                    is_repeat_return=False,
                    registered_at=REGISTERED,
                    country_of_return="HN",
                    sex="female",
                    version=1,
                )
            )
    finally:
        await engine.dispose()
    return str(returnee_id), str(case_id)


def text_of(key: bytes) -> str:
    return base64.b64encode(key).decode()


async def test_existing_plaintext_rows_are_encrypted_and_their_keys_blinded(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    returnee_id, case_id = await plaintext_database(database_url)
    monkeypatch.delenv("REINTEGRA_KEY_ENCRYPTION_KEY", raising=False)
    with pytest.raises(
        RuntimeError, match="set REINTEGRA_KEY_ENCRYPTION_KEY and REINTEGRA_BLIND_INDEX_SECRET"
    ):
        await asyncio.to_thread(command.upgrade, alembic_config(MIGRATIONS, database_url), "head")
    kek, secret = os.urandom(32), os.urandom(32)
    monkeypatch.setenv("REINTEGRA_KEY_ENCRYPTION_KEY", text_of(kek))
    monkeypatch.setenv("REINTEGRA_BLIND_INDEX_SECRET", text_of(secret))
    keys = ReceptionKeys.from_text(text_of(kek), text_of(secret))
    async with HandlerHarness(
        database_url,  # migrates to head
        spec=SPEC,
        tables=kit_tables,
        uow_class=ReceptionUnitOfWork.factory(keys),
        clock=ManualClock(REGISTERED + timedelta(days=300)),
        match_policy=MatchPolicy(),
        blind_index=keys.blind_index,
    ) as service:
        [row] = await service.rows(returnees)
        assert row.given_names_enc is not None
        assert b"Marta" not in row.given_names_enc
        stored = {r.key for r in await service.rows(identity_keys)}
        assert stored == keys.blind_index.blocking_keys(identity_of(MARTA, sex="female", country="HN"))
        assert not any("ZELAYA" in k for k in stored)
        actor = Actor("u-cw", frozenset({"case_worker"}))
        read = await service.handle(
            read_personal_data, ReadPersonalData(UUID(case_id), PersonalDataPurpose.CASE_MANAGEMENT, actor)
        )
        assert read.unwrap().person == MARTA
        back, _ = await service.handle(
            register_arrival,
            RegisterArrival(
                MARTA, facts(country_of_return="HN", arrived_at=REGISTERED + timedelta(days=300))
            ),
        )
        assert str(back.returnee_id) == returnee_id  # found again through the blind indexes
        assert back.is_repeat_return
