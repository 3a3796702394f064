"""``reintegra-stack``: run Reintegra on one machine and play a synthetic charter flight."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated

import httpx
import typer
from reintegra_contracts.topics import is_agency_code
from reintegra_kit import acl
from reintegra_kit.auth.issuing import SigningKey, access_token_claims
from reintegra_kit.auth.policy import PolicyError, load_policy
from rich.console import Console

from . import demo as demo_flow
from . import issuer
from . import kafka_acls as kafka_acls_apply
from .processes import (
    DEMO_TIMINGS,
    Layout,
    Service,
    StackError,
    Started,
    check_ports,
    ensure_kafka,
    issuer_service,
    kafka,
    kafka_status,
    log_tail,
    running_pid,
    services,
    start_service,
    stop_service,
)
from .scenario import generate_flight, now_utc
from .traces import TracingBackend, case_trace_id, ensure_tracing_backend

READY_TIMEOUT_S = 120.0
STOP_COMMAND = "bash scripts/run.sh down"
"""What a person types, in any shell, to stop the platform (works even when uv is not on PATH)."""

app = typer.Typer(
    help="Run Reintegra locally (Kafka + the four services) and play a synthetic charter flight.",
    no_args_is_help=True,
    add_completion=False,
)


def make_console() -> Console:
    # In a log file or pipe rich falls back to 80 columns; the case table needs more.
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        return Console(width=160)
    return Console()


console = make_console()


class Stop(Exception):
    """SIGINT or SIGTERM arrived."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    # One-shot: a Ctrl-C in a terminal reaches both uv (which forwards it) and us; the second copy
    # must not interrupt the orderly stop that the first one starts.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Stop(signal.Signals(signum).name)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into :class:`Stop`, also when SIGINT was ignored by a parent shell."""
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, _raise_stop)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _ready(service: Service) -> tuple[bool, str]:
    try:
        response = httpx.get(f"{service.base_url}/readyz", timeout=3.0)
    except httpx.HTTPError as exc:
        return False, type(exc).__name__
    if response.status_code == 200:
        return True, "ready"
    try:
        checks = response.json().get("checks", {})
        failing = "; ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok")
    except ValueError:
        failing = response.text[:200]
    return False, f"HTTP {response.status_code} {failing}".strip()


def wait_ready(layout: Layout, started: list[Started]) -> None:
    """Wait until every service answers ``/readyz`` with 200; on failure show its log and exit 1."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    waiting = list(started)
    last: dict[str, str] = {}
    with console.status("waiting for the services to be ready ...") as status:
        while waiting:
            for item in list(waiting):
                ok, detail = _ready(item.service)
                last[item.service.name] = detail
                if ok:
                    waiting.remove(item)
                    console.print(f"[green]✓[/] {item.service.name:<10} ready on {item.service.base_url}")
                    continue
                code = item.exited()
                if code is not None:
                    _fail_service(layout, item.service, f"exited with status {code} before it was ready")
            if not waiting:
                break
            if time.monotonic() > deadline:
                item = waiting[0]
                _fail_service(
                    layout,
                    item.service,
                    f"not ready after {READY_TIMEOUT_S:.0f} s (last /readyz: {last.get(item.service.name)})",
                )
            status.update(
                "waiting for "
                + ", ".join(f"{w.service.name} ({last.get(w.service.name, '...')})" for w in waiting)
            )
            time.sleep(0.5)


def _fail_service(layout: Layout, service: Service, why: str) -> None:
    path = layout.log_file(service)
    console.print(f"[red]✗ {service.name} {why}[/]")
    console.print(f"--- last lines of {path} ---", markup=False)
    console.print(log_tail(path), markup=False, highlight=False)
    console.print("---", markup=False)
    raise Failed(1)


class Failed(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def stop_services(layout: Layout, started: list[Started] | None = None) -> None:
    by_name = {s.service.name: s for s in started or []}
    for service in (*reversed(services()), issuer_service()):  # consumers first, the issuer last
        outcome = stop_service(layout, service, by_name.get(service.name))
        console.print(f"  {service.name:<10} {outcome}")


def run_demo(flight_size: int, seed: int) -> list[demo_flow.CaseRun] | None:
    """Play the flight; its cases, or None when it failed."""
    flight = generate_flight(flight_size, seed, now=now_utc(), repeat_returns=flight_size // 12)
    console.rule(f"Scenario: flight {flight.flight_ref}, {len(flight.returnees)} returnees (seed {seed})")
    try:
        runs = asyncio.run(demo_flow.play(flight, console))
    except demo_flow.DemoError as exc:
        console.print(f"[red]✗ scenario failed:[/] {exc}", highlight=False)
        return None
    demo_flow.report(console, flight, runs)
    return runs


def print_trace_link(layout: Layout, backend: TracingBackend, runs: list[demo_flow.CaseRun]) -> str | None:
    """Print the Jaeger link of the trace of one demo case (one with referrals, if any); return it."""
    ordered = sorted(runs, key=lambda run: -len(run.referrals or []))
    for run in ordered:
        trace_id = case_trace_id(layout.data_dir / "reception.db", run.case_id)
        if trace_id:
            link = backend.trace_link(trace_id)
            console.print(
                f"Trace of case {run.case_id} (arrival, assessment, referrals, follow-ups): {link}",
                highlight=False,
            )
            return link
    console.print("no case trace found in reception's database (services started without --traces?)")
    return None


def _running_banner(stop_kafka: bool) -> None:
    console.print()
    console.print("[bold]Reintegra is running:[/]")
    for s in services():
        console.print(f"  {s.name:<10} {s.base_url}/docs", highlight=False)
    console.print(
        f"  {'issuer':<10} {issuer_service().base_url}/jwks.json  (a token: "
        "uv run reintegra-stack token --role case_worker --centre HN-CAMR-SPS --country HN)",
        highlight=False,
    )
    kafka_note = "Kafka will be stopped too" if stop_kafka else "Kafka keeps running"
    console.print(
        f"Stop with Ctrl-C or `{STOP_COMMAND}` ({kafka_note}). Logs: .local/logs/<service>.log",
        markup=False,
    )


@app.command()
def up(
    flight_size: Annotated[int, typer.Option(min=1, max=1000, help="Returnees on the demo flight.")] = 120,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic scenario.")] = 2026,
    no_demo: Annotated[bool, typer.Option("--no-demo", help="Start the platform, play nothing.")] = False,
    detach: Annotated[
        bool, typer.Option("--detach", help="Return after the demo, leaving all running.")
    ] = False,
    stop_kafka: Annotated[bool, typer.Option("--stop-kafka", help="Also stop Kafka on Ctrl-C.")] = False,
    traces: Annotated[
        bool,
        typer.Option(
            "--traces",
            help="Also start the local Jaeger (deploy/local/jaeger.sh; built once, long), export the "
            "services' traces to it and print the trace link of a demo case.",
        ),
    ] = False,
) -> None:
    """Start Kafka and the four services, play the demo flight, and run until Ctrl-C."""
    layout = Layout.discover()
    started: list[Started] = []
    code = 0
    with stop_on_signals():
        try:
            bootstrap, local_kafka = ensure_kafka(layout)
            console.print(f"[green]✓[/] Kafka at {bootstrap}" + ("" if local_kafka else " (external)"))
            extra = {} if no_demo else dict(DEMO_TIMINGS)
            backend = None
            if traces:
                backend = ensure_tracing_backend(layout)
                extra["REINTEGRA_OTLP_ENDPOINT"] = backend.otlp_endpoint
                console.print(
                    f"[green]✓[/] Jaeger: UI {backend.ui_url}, OTLP {backend.otlp_endpoint} "
                    "(services already running keep their settings: `bash scripts/run.sh down` first)",
                    highlight=False,
                )
            if not no_demo:
                console.print(
                    "demo timings: follow-ups fall due after 30 s / 45 s instead of 90 / 14 days "
                    "(first contact 30 s after arrival, referral check 45 s after a referral; "
                    "REINTEGRA_FIRST_FOLLOWUP_AFTER=PT30S, REINTEGRA_REFERRAL_CHECK_AFTER=PT45S)",
                    markup=False,
                )
            check_ports(layout)
            item = start_service(layout, issuer_service(), bootstrap)
            started.append(item)
            console.print(
                f"  {'issuer':<10} {'started' if item.process else 'already running'}, pid {item.pid}"
            )
            for service in services():
                item = start_service(layout, service, bootstrap, extra)
                started.append(item)
                how = "started" if item.process else "already running (started earlier; its timings kept)"
                console.print(f"  {service.name:<10} {how}, pid {item.pid}, port {service.port}")
            wait_ready(layout, started)
            if not no_demo:
                runs = run_demo(flight_size, seed)
                if runs is None:
                    raise Failed(1)
                if backend is not None:
                    print_trace_link(layout, backend, runs)
            _running_banner(stop_kafka)
            if detach:
                return
            while True:
                time.sleep(3600)
        except Stop as stop:
            console.print(f"\n{stop} received: stopping the services ...")
        except StackError as exc:
            console.print(f"[red]✗[/] {exc}", highlight=False)
            code = 1
        except Failed as failed:
            code = failed.code
            if detach:
                console.print(f"--detach: leaving the services running for inspection (`{STOP_COMMAND}`)")
                raise typer.Exit(code) from None
            console.print("stopping the services ...")
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # no second Ctrl-C while stopping
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if started:
            stop_services(layout, started)
        if stop_kafka and os.environ.get("REINTEGRA_KAFKA_BOOTSTRAP_SERVERS") is None:
            kafka(layout, "stop")
    raise typer.Exit(code)


@app.command()
def down(
    keep_kafka: Annotated[bool, typer.Option("--keep-kafka", help="Leave Kafka running.")] = False,
) -> None:
    """Stop the four services (via their pid files) and the local Kafka."""
    layout = Layout.discover()
    console.print("stopping the services ...")
    stop_services(layout)
    if not keep_kafka:
        result = kafka(layout, "stop")
        if result.returncode != 0:
            raise typer.Exit(1)


@app.command()
def status() -> None:
    """Readiness of each service, the local issuer and the status of Kafka."""
    layout = Layout.discover()
    all_ready = True
    for service in (*services(), issuer_service()):
        pid = running_pid(layout, service)
        ok, detail = _ready(service)
        all_ready &= ok
        mark = "[green]✓[/]" if ok else "[red]✗[/]"
        owner = f"pid {pid}" if pid else ("(not started by reintegra-stack)" if ok else "not running")
        console.print(
            f"{mark} {service.name:<10} {service.base_url:<22} {detail:<10} {owner}", highlight=False
        )
    ok, detail = kafka_status(layout)
    all_ready &= ok
    console.print(f"{'[green]✓[/]' if ok else '[red]✗[/]'} kafka      {detail}", highlight=False)
    raise typer.Exit(0 if all_ready else 3)


@app.command()
def demo(
    flight_size: Annotated[int, typer.Option(min=1, max=1000, help="Returnees on the demo flight.")] = 120,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic scenario.")] = 2026,
) -> None:
    """Play the demo flight against services that are already running (idempotent per seed and day)."""
    if run_demo(flight_size, seed) is None:
        raise typer.Exit(1)


@app.command("kafka-acls")
def kafka_acls(
    directory: Annotated[
        Path, typer.Option(help="Service directory whose agencies get users (JSON).")
    ] = acl.SAMPLE_DIRECTORIES,
    credentials: Annotated[
        Path | None,
        typer.Option(help="Passwords of the users (JSON, created; default <kafka state>/credentials.json)."),
    ] = None,
    topic_prefix: Annotated[str, typer.Option(help="Prefix of every physical topic name.")] = "",
) -> None:
    """Create the Kafka users (SCRAM-SHA-512), topics and ACLs on the local SASL broker.

    Start that broker first: REINTEGRA_KAFKA_SECURITY=sasl deploy/local/kafka.sh start. Each service
    then runs with REINTEGRA_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT, REINTEGRA_KAFKA_USERNAME=
    reintegra-<service> and its password from the credentials file.
    """
    layout = Layout.discover()
    env = {**os.environ, "REINTEGRA_KAFKA_SECURITY": "sasl"}
    try:
        bootstrap = _sasl_kafka(layout, env, "bootstrap")
        password = _sasl_kafka(layout, env, "admin-password")
        state = Path(os.environ.get("REINTEGRA_KAFKA_DIR") or layout.root / ".local" / "kafka-sasl")
        users = acl.kafka_users(acl.agencies_in_directory(directory), topic_prefix=topic_prefix)
        passwords = kafka_acls_apply.load_credentials(credentials or state / "credentials.json", users)
        done = kafka_acls_apply.apply(bootstrap, password, users, passwords)
    except (StackError, ValueError, RuntimeError, OSError) as exc:
        print(f"reintegra-stack kafka-acls: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    except Exception as exc:  # kafka-python's errors (broker down, authentication failed)
        print(f"reintegra-stack kafka-acls: {type(exc).__name__}: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    console.print(
        f"[green]✓[/] {done.users} users on {bootstrap}: {len(done.topics_created)} topics created, "
        f"{done.acls_created} ACLs added, {done.acls_deleted} removed; passwords in "
        f"{credentials or state / 'credentials.json'}",
        highlight=False,
    )


def _sasl_kafka(layout: Layout, env: dict[str, str], command: str) -> str:
    result = subprocess.run(
        ["bash", str(layout.kafka_script), command], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0 or not result.stdout.strip():
        raise StackError(f"deploy/local/kafka.sh {command} failed: {result.stderr.strip()}")
    return result.stdout.strip().splitlines()[-1]


@app.command()
def token(
    role: Annotated[
        list[str], typer.Option("--role", help="A role of the access policy (repeat for several).")
    ],
    agency: Annotated[str | None, typer.Option(help="Agency code, e.g. hn-senaf.")] = None,
    centre: Annotated[str | None, typer.Option(help="Reception centre code, e.g. HN-CAMR-SPS.")] = None,
    country: Annotated[str | None, typer.Option(help="Two-letter country code, e.g. HN.")] = None,
    subject: Annotated[str | None, typer.Option(help="The token's sub (default: a new random id).")] = None,
    ttl: Annotated[int, typer.Option(min=60, max=86_400, help="Lifetime in seconds.")] = 3600,
) -> None:
    """Print an access token signed by the local issuer (for the APIs' Authorize button or curl).

    Example: curl -H "Authorization: Bearer $(uv run reintegra-stack token --role agency_partner
    --agency hn-senaf --country HN)" http://127.0.0.1:8103/v1/referrals
    """
    problems = []
    try:
        policy = load_policy(os.environ.get("REINTEGRA_AUTH_POLICY_FILE") or None)
    except PolicyError as exc:
        print(f"reintegra-stack token: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    for name in role:
        if name not in policy.roles:
            problems.append(f"unknown role {name!r}; roles of the policy: {', '.join(sorted(policy.roles))}")
    if agency is not None and not is_agency_code(agency):
        problems.append(f"--agency {agency!r} is not an agency code (lowercase letters, digits, hyphens)")
    if country is not None and not (len(country) == 2 and country.isalpha() and country.isupper()):
        problems.append(f"--country {country!r} is not a two-letter country code such as HN")
    if problems:
        for problem in problems:
            print(f"reintegra-stack token: {problem}", file=sys.stderr)
        raise typer.Exit(2)
    try:
        key = SigningKey.load_or_create(issuer.key_file(Layout.discover().root))
        url = issuer.issuer_url()
    except (OSError, ValueError, StackError) as exc:
        print(f"reintegra-stack token: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    claims = access_token_claims(
        issuer=url,
        audience=issuer.AUDIENCE,
        subject=subject,
        roles=role,
        agency=agency,
        country=country,
        centre=centre,
        ttl_s=ttl,
    )
    print(key.sign(claims))


if __name__ == "__main__":
    app()
