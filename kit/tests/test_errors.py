"""Telling an outage (redeliver, 503) from a failure (retry then park, 500)."""

from __future__ import annotations

import pytest
from reintegra_kit.errors import is_infrastructure_error
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError


class DriverError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("message", "sqlstate"),
    [
        ("the database system is starting up", "57P03"),
        ("the database system is shutting down", "57P03"),
        ("terminating connection due to administrator command", "57P01"),
        ("connection failure", "08006"),
        ("too many connections for role", "53300"),
    ],
)
def test_a_database_server_going_away_is_an_outage(message: str, sqlstate: str) -> None:
    assert is_infrastructure_error(DBAPIError("SELECT 1", {}, DriverError(message, sqlstate)))


def test_a_wrong_statement_or_a_broken_rule_is_not_an_outage() -> None:
    assert not is_infrastructure_error(DBAPIError("SELEC 1", {}, DriverError("syntax error", "42601")))
    assert not is_infrastructure_error(IntegrityError("INSERT", {}, DriverError("duplicate key", "23505")))
    assert not is_infrastructure_error(ValueError("no service covers this municipality"))


def test_a_connection_pool_exhausted_past_its_time_out_is_an_outage_not_a_bug() -> None:
    # an overloaded service answers 503 with Retry-After (and a consumer redelivers), never 500
    exhausted = PoolTimeoutError("QueuePool limit of size 5 overflow 5 reached, connection timed out")
    assert is_infrastructure_error(exhausted)
