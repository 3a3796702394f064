"""The access policy file: the shipped one is valid and complete; a bad one is refused, naming the entry."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from reintegra_kit.auth.policy import DEFAULT_POLICY_FILE, PolicyError, Scope, load_policy

REQUIRED_ROLES = {
    "reception_officer",
    "case_worker",
    "protection_officer",
    "mental_health_professional",
    "referral_coordinator",
    "directory_manager",
    "agency_partner",
    "me_analyst",
    "auditor",
    "operator",
}

GOOD = """
version = 1
[open]
paths = ["/livez", "/readyz", "/metrics"]
[roles]
case_worker = "Works cases."
auditor = "Audits."
[operations."case.read"]
description = "Read cases."
[operations."case.read".grants]
case_worker = "own_centre"
[routes.reception]
"GET /v1/cases" = "case.read"
"GET /v1/cases/{case_id}" = "case.read"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(PolicyError) as caught:
        load_policy(write(tmp_path, text))
    return str(caught.value)


def test_the_shipped_policy_loads_with_every_role_the_field_needs() -> None:
    policy = load_policy()
    assert policy.source == str(DEFAULT_POLICY_FILE)
    assert set(policy.roles) >= REQUIRED_ROLES
    assert policy.open_paths == {"/livez", "/readyz", "/metrics"}
    assert policy.services() == ["assessment", "followup", "reception", "referral"]


def test_the_analyst_is_granted_aggregates_only() -> None:
    policy = load_policy()
    granted = {name for name, op in policy.operations.items() if "me_analyst" in op.grants}
    assert granted == {"report.read"}
    routed = {route.operation for route in policy.routes.values()}
    assert "report.read" not in routed  # no route of today's services returns aggregates


def test_agency_partners_reach_only_their_own_agency() -> None:
    policy = load_policy()
    scopes = {
        op.grants["agency_partner"] for op in policy.operations.values() if "agency_partner" in op.grants
    }
    assert scopes == {Scope.OWN_AGENCY, Scope.ALL}
    all_scoped = {n for n, op in policy.operations.items() if op.grants.get("agency_partner") == Scope.ALL}
    assert all_scoped == {"directory.read"}  # the directory holds no data about persons


def test_routes_are_found_by_template_whatever_the_parameter_is_called(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, GOOD))
    route = policy.route("reception", "get", "/v1/cases/{id}")
    assert route is not None
    assert (route.path, route.operation, route.addresses_one_record) == (
        "/v1/cases/{case_id}",
        "case.read",
        True,
    )
    assert policy.route("reception", "POST", "/v1/cases") is None
    assert policy.route("assessment", "GET", "/v1/cases") is None
    assert policy.grants({"case_worker", "auditor", "stranger"}, "case.read") == {
        "case_worker": Scope.OWN_CENTRE
    }


def test_unknown_role_is_refused_by_name(tmp_path: Path) -> None:
    message = problems_of(tmp_path, GOOD.replace('case_worker = "own_centre"', 'case_workr = "own_centre"'))
    assert "operation 'case.read': unknown role 'case_workr'" in message


def test_unknown_operation_is_refused_by_name(tmp_path: Path) -> None:
    message = problems_of(
        tmp_path, GOOD.replace('"GET /v1/cases" = "case.read"', '"GET /v1/cases" = "cases.list"')
    )
    assert "route reception: 'GET /v1/cases': unknown operation 'cases.list'" in message


def test_unknown_scope_is_refused_by_name(tmp_path: Path) -> None:
    message = problems_of(tmp_path, GOOD.replace('"own_centre"', '"own_city"'))
    assert "unknown scope 'own_city' for role 'case_worker'" in message
    assert "own_centre, own_agency, own_country, all" in message


def test_duplicate_route_is_refused_by_name(tmp_path: Path) -> None:
    message = problems_of(tmp_path, GOOD + '"GET /v1/cases/{id}" = "case.read"\n')
    assert (
        "duplicate route reception: 'GET /v1/cases/{id}' is the same route as 'GET /v1/cases/{case_id}'"
        in message
    )


def test_the_very_same_route_twice_is_refused_by_name(tmp_path: Path) -> None:
    message = problems_of(tmp_path, GOOD + '"GET /v1/cases" = "case.read"\n')
    assert 'duplicate entry \'"GET /v1/cases" = "case.read"\'' in message


def test_badly_written_route_and_unknown_keys_are_refused(tmp_path: Path) -> None:
    message = problems_of(
        tmp_path,
        GOOD.replace("version = 1", "version = 1\nallow_all = true") + '"FETCH v1/x" = "case.read"\n',
    )
    assert "unknown key 'allow_all' in the top level" in message
    assert "route reception: 'FETCH v1/x': write it as 'METHOD /path/{param}'" in message


def test_a_route_cannot_be_open_and_governed(tmp_path: Path) -> None:
    message = problems_of(tmp_path, GOOD + '"GET /readyz" = "case.read"\n')
    assert "/readyz is listed as open" in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace('case_worker = "own_centre"', 'nobody = "own_centre"').replace(
        '"GET /v1/cases" = "case.read"', '"GET /v1/cases" = "nothing.here"'
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(write(tmp_path, text))
    assert len(caught.value.problems) == 2


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read it"):
        load_policy(tmp_path / "nowhere.toml")


def test_a_bad_policy_stops_the_service_with_exit_status_2(tmp_path: Path) -> None:
    bad = write(tmp_path, GOOD.replace('case_worker = "own_centre"', 'case_workr = "own_centre"'))
    program = (
        "from reintegra_kit.entrypoint import run_service\n"
        "from reintegra_kit.settings import ServiceSettings\n"
        "def build(settings):\n"
        "    raise AssertionError('must not be built')\n"
        "run_service(ServiceSettings, build)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        env={
            "REINTEGRA_AUTH_POLICY_FILE": str(bad),
            "REINTEGRA_AUTH_ISSUER": "http://127.0.0.1:1/realms/reintegra",
            "REINTEGRA_AUTH_AUDIENCE": "reintegra",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "invalid access policy" in result.stderr
    assert "unknown role 'case_workr'" in result.stderr


def test_an_operation_may_say_it_answers_with_personal_data(tmp_path: Path) -> None:
    marked = GOOD.replace('description = "Read cases."', 'description = "Read cases."\npersonal_data = true')
    policy = load_policy(write(tmp_path, marked))
    assert policy.operations["case.read"].personal_data is True
    assert load_policy(write(tmp_path, GOOD)).operations["case.read"].personal_data is False
    wrong = GOOD.replace('description = "Read cases."', 'description = "Read cases."\npersonal_data = "yes"')
    assert "operation 'case.read': personal_data must be true or false, got 'yes'" in problems_of(
        tmp_path, wrong
    )
