"""The Helm chart renders, validates against Kubernetes' and the operators' schemas, passes checkov, and
keeps its promises: every setting configurable, secrets only by reference, restricted pods, one KafkaTopic
per topic of the contracts, migrations before install and upgrade, alerts linked to the runbook."""

from __future__ import annotations

import copy
import importlib
import json
import pkgutil
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import reintegra_contracts.topics as topics
import yaml
from reintegra_kit import acl as kafka_acl
from reintegra_kit.registry import discover
from reintegra_kit.settings import ServiceSettings

from .conftest import CHART, PRODUCTION_VALUES, ROOT, Render, helm_run

pytestmark = pytest.mark.chart

SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").is_file())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
PRODUCTION = yaml.safe_load(PRODUCTION_VALUES.read_text(encoding="utf-8"))
BAD_VALUES = Path(__file__).parent / "bad-values"

# Settings the chart sets itself, from other values (see templates/_helpers.tpl "reintegra.env").
DERIVED = {
    "service_name": "the component's name",
    "kafka_bootstrap_servers": "kafka.bootstrapServers",
    "consumer_group": "topicPrefix + reintegra-<service> (the group of the KafkaUser ACLs and KEDA)",
    "topic_prefix": "topicPrefix",
    # from the Strimzi KafkaUser when kafka.strimzi.users.enabled, else secretConfig.kafkaUsername
    "kafka_username": "the service's KafkaUser, or secretConfig.kafkaUsername",
}
# Settings that may only come from a Secret (they must never appear under config).
SECRET_ONLY = re.compile(r"(password|secret|token|database_url|encryption_key|private_key)")
# REINTEGRA_* variables the chart sets that are not (yet) settings: the image's service selector, and
# the Kafka credentials of a Strimzi KafkaUser, which the auth work (issue 12) turns into settings.
NOT_SETTINGS = {"REINTEGRA_SERVICE", "REINTEGRA_KAFKA_USERNAME", "REINTEGRA_KAFKA_PASSWORD"}


# -- helpers -------------------------------------------------------------------------------------------


def settings_class(service: str) -> type[ServiceSettings]:
    """The ServiceSettings subclass defined in ``reintegra_<service>.settings``."""
    module = importlib.import_module(f"reintegra_{service}.settings")
    found = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, ServiceSettings)
        and obj is not ServiceSettings
        and obj.__module__ == module.__name__
    ]
    assert len(found) == 1, f"reintegra_{service}.settings should define one ServiceSettings class: {found}"
    return found[0]


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def env_name(field: str) -> str:
    return "REINTEGRA_" + field.upper()


def of_kind(manifests: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in manifests if m["kind"] == kind]


def by_component(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["labels"]["app.kubernetes.io/component"]: m for m in of_kind(manifests, kind)}


def pod_specs(manifests: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for m in manifests:
        name = f"{m['kind']}/{m['metadata']['name']}"
        if m["kind"] in ("Deployment", "Job"):
            yield name, m["spec"]["template"]["spec"]
        elif m["kind"] == "CronJob":
            yield name, m["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def topic_names(manifests: list[dict[str, Any]]) -> set[str]:
    return {t["spec"]["topicName"] for t in of_kind(manifests, "KafkaTopic")}


# -- helm lint and template ----------------------------------------------------------------------------


@pytest.mark.parametrize("values", [None, PRODUCTION_VALUES], ids=["default", "production"])
def test_helm_lint_passes_strictly(helm: str, values: Path | None) -> None:
    args = ["lint", "--strict", str(CHART)] + (["-f", str(values)] if values else [])
    result = helm_run(helm, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


def test_default_values_need_no_custom_resource_definitions(default_manifests: list[dict[str, Any]]) -> None:
    kinds = {m["kind"] for m in default_manifests}
    assert kinds == {"Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy"}


def test_production_values_render_every_kind(production_manifests: list[dict[str, Any]]) -> None:
    kinds = {m["kind"] for m in production_manifests}
    assert kinds >= {
        "Deployment",
        "Service",
        "ServiceAccount",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "Ingress",
        "Job",
        "CronJob",
        "ScaledObject",
        "TriggerAuthentication",
        "KafkaTopic",
        "KafkaUser",
        "ServiceMonitor",
        "PrometheusRule",
        "ConfigMap",
    }
    assert "Secret" not in kinds  # secrets are referenced, never rendered


# -- validation against schemas ------------------------------------------------------------------------

BUILTIN_GROUPS = ("v1", "apps/v1", "batch/v1", "policy/v1", "networking.k8s.io/v1", "autoscaling/v2")


@pytest.mark.parametrize("values", [None, PRODUCTION_VALUES], ids=["default", "production"])
def test_kubernetes_resources_validate_strictly(render: Render, values: Path | None, tmp_path: Path) -> None:
    manifests = render(*(["-f", str(values)] if values else []))
    builtin = [m for m in manifests if m["apiVersion"] in BUILTIN_GROUPS]
    assert builtin
    path = tmp_path / "builtin.yaml"
    path.write_text(yaml.safe_dump_all(builtin), encoding="utf-8")
    # 1.29 is the chart's kubeVersion floor; the newest schemas catch removed fields
    for version in ("1.29.0", None):
        args = ["--strict"] + (["--kubernetes-version", version] if version else [])
        result = subprocess.run(
            [sys.executable, "-m", "kubernetes_validate", *args, str(path)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        passed = [line for line in result.stdout.splitlines() if line.startswith("INFO") and "passed" in line]
        assert len(passed) == len(builtin), result.stdout  # no resource skipped for want of a schema


def crd_schemas(crds_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema of every served version of the vendored CRDs."""
    schemas = {}
    for path in sorted(crds_dir.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served"):
                    schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


def strict(schema: Any) -> Any:
    """An openAPIV3Schema as JSON Schema that refuses unknown fields, as the API server prunes them."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if out.get("format") == "int-or-string":
        out.pop("format")
    return out


def validate_custom_resource(resource: dict[str, Any], schemas: dict[tuple[str, str], Any]) -> list[str]:
    key = (resource["apiVersion"], resource["kind"])
    assert key in schemas, f"no CRD schema for {key}"
    schema = strict(schemas[key])
    # metadata is validated by the API server, not by the CRD's schema
    schema["properties"]["metadata"] = {"type": "object"}
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(resource)]


def test_custom_resources_match_their_crd_schemas(
    production_manifests: list[dict[str, Any]], crds_dir: Path
) -> None:
    schemas = crd_schemas(crds_dir)
    custom = [m for m in production_manifests if m["apiVersion"] not in BUILTIN_GROUPS]
    kinds = {(m["apiVersion"], m["kind"]) for m in custom}
    assert kinds == {
        ("kafka.strimzi.io/v1", "KafkaTopic"),
        ("kafka.strimzi.io/v1", "KafkaUser"),
        ("keda.sh/v1alpha1", "ScaledObject"),
        ("keda.sh/v1alpha1", "TriggerAuthentication"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
    }
    problems = {
        f"{m['kind']}/{m['metadata']['name']}": errors
        for m in custom
        if (errors := validate_custom_resource(m, schemas))
    }
    assert problems == {}


def test_the_crd_validation_catches_wrong_fields(
    production_manifests: list[dict[str, Any]], crds_dir: Path
) -> None:
    schemas = crd_schemas(crds_dir)
    topic = copy.deepcopy(of_kind(production_manifests, "KafkaTopic")[0])
    topic["spec"]["partitions"] = "six"
    topic["spec"]["retention"] = "7d"
    errors = validate_custom_resource(topic, schemas)
    assert any("partitions" in e for e in errors)
    assert any("retention" in e for e in errors)
    user = copy.deepcopy(of_kind(production_manifests, "KafkaUser")[0])
    user["spec"]["authorization"]["acls"][0]["operation"] = "Read"  # removed in kafka.strimzi.io/v1
    assert any("operation" in e for e in validate_custom_resource(user, schemas))


def checkov_skips() -> dict[str, str]:
    """Skipped check ids of deploy/helm/checkov.yaml with the comment above each (its reason)."""
    skips, reason = {}, []
    for line in (ROOT / "deploy" / "helm" / "checkov.yaml").read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            reason.append(stripped.lstrip("# "))
        elif stripped.startswith("- CKV"):
            skips[stripped[2:]] = " ".join(reason)
            reason = []
        else:
            reason = []
    return skips


def test_checkov_finds_no_failed_check(render_text: Callable[..., str], tmp_path: Path) -> None:
    skips = checkov_skips()
    assert skips
    assert all(len(reason) > 40 for reason in skips.values()), skips
    files = []
    for name, args in {"default": [], "production": ["-f", str(PRODUCTION_VALUES)]}.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(render_text(*args), encoding="utf-8")
        files += ["-f", str(path)]
    result = subprocess.run(
        [
            "uv",
            "run",
            "--quiet",
            "--frozen",
            "--project",
            str(ROOT / "deploy" / "tools"),
            "checkov",
            *files,
            "--framework",
            "kubernetes",
            "--skip-download",
            "--quiet",
            "--compact",
            "--output",
            "json",
            "--config-file",
            str(ROOT / "deploy" / "helm" / "checkov.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['resource']}"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    assert failed == [], "\n".join(failed)
    assert sum(r["summary"]["passed"] for r in reports) > 500
    assert result.returncode == 0, result.stderr


# -- wrong values are refused --------------------------------------------------------------------------

REFUSED = {
    "secret-as-plain-value.yaml": "additional properties 'databaseUrl' not allowed",
    "bad-log-level.yaml": "value must be one of 'DEBUG', 'INFO', 'WARNING', 'ERROR'",
    "unknown-component.yaml": "additional properties 'payroll' not allowed",
    "bad-agency-code.yaml": "/kafka/partners/agencies/0",
    "secret-without-key.yaml": "missing property 'key'",
    "setting-of-another-service.yaml": "additional properties 'firstFollowupAfter' not allowed",
    "bad-retention.yaml": "/defaults/housekeeping/retention",
    "ingress-without-host.yaml": "/components/reception/ingress",
}
FAILED_BY_TEMPLATE = {
    "replicas-without-database.yaml": "more than one replica needs a shared database",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_the_values_schema_refuses_wrong_values(helm: str, name: str) -> None:
    result = helm_run(helm, "lint", str(CHART), "-f", str(BAD_VALUES / name))
    assert result.returncode != 0
    assert REFUSED[name] in result.stdout + result.stderr, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(FAILED_BY_TEMPLATE))
def test_the_templates_refuse_inconsistent_values(helm: str, name: str) -> None:
    result = helm_run(helm, "template", "r", str(CHART), "-f", str(BAD_VALUES / name))
    assert result.returncode != 0
    assert FAILED_BY_TEMPLATE[name] in result.stderr, result.stderr


def test_every_wrong_values_file_is_tested() -> None:
    assert {p.name for p in BAD_VALUES.glob("*.yaml")} == set(REFUSED) | set(FAILED_BY_TEMPLATE)


# -- configuration: every setting of every service -----------------------------------------------------


def test_every_setting_of_every_service_has_a_value(production_manifests: list[dict[str, Any]]) -> None:
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    missing = []
    for service in SERVICES:
        component = VALUES["components"][service]
        plain = {**VALUES["config"], **(component.get("config") or {})}
        component_schema = schema["properties"]["components"]["properties"][service]["properties"]
        for field in settings_class(service).model_fields:
            key = camel(field)
            if field in DERIVED:
                continue
            if SECRET_ONLY.search(field):
                assert key not in plain, f"{service}: {field} is a secret and may not be a plain value"
                assert key not in component_schema["config"]["properties"], f"schema allows plain {key}"
                continue
            if key not in plain:
                missing.append(
                    f"{service}: {env_name(field)} -> values.yaml config.{key} (or components.{service}.config.{key})"
                )
            elif key not in component_schema["config"]["properties"]:
                missing.append(
                    f"{service}: {env_name(field)} -> values.schema.json components.{service}.config.{key}"
                )
    assert missing == [], (
        "settings the chart cannot set (uv run python deploy/helm/sync_settings.py adds them):\n"
        + "\n".join(missing)
    )


def test_every_setting_reaches_the_container(production_manifests: list[dict[str, Any]]) -> None:
    deployments = by_component(production_manifests, "Deployment")
    assert set(deployments) == set(SERVICES)
    unset, unknown = [], []
    for service in SERVICES:
        container = deployments[service]["spec"]["template"]["spec"]["containers"][0]
        env = env_of(container)
        fields = settings_class(service).model_fields
        component = PRODUCTION["components"][service]
        optional_secrets = {env_name(f) for f in fields if SECRET_ONLY.search(f)}
        # settings left at a default of "none" (e.g. the policy shipped with the kit) need no variable
        merged = {
            **VALUES["config"],
            **(VALUES["components"][service].get("config") or {}),
            **PRODUCTION.get("config", {}),
            **(component.get("config") or {}),
        }
        optional_secrets |= {env_name(f) for f in fields if merged.get(camel(f), "x") is None}
        for field in fields:
            name = env_name(field)
            if name not in env and name not in optional_secrets:
                unset.append(f"{service}: {name}")
        known = (
            {env_name(f) for f in fields}
            | NOT_SETTINGS
            | {
                env_name(re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower())
                for k in component.get("secretConfig", {})
            }
        )
        unknown += [f"{service}: {n}" for n in env if n not in known]
    assert unset == [], "settings not passed to the container with the production values: " + ", ".join(unset)
    assert unknown == [], "variables that no setting reads (a typo?): " + ", ".join(unknown)


def test_secrets_come_only_from_secret_references(production_manifests: list[dict[str, Any]]) -> None:
    for name, spec in pod_specs(production_manifests):
        for container in spec["containers"]:
            for var in container["env"]:
                if SECRET_ONLY.search(var["name"].lower()) or var["name"] == "REINTEGRA_KAFKA_PASSWORD":
                    assert "value" not in var, f"{name}: {var['name']} is a plain value"
                    assert var["valueFrom"]["secretKeyRef"]["name"], f"{name}: {var['name']}"
    reception = by_component(production_manifests, "Deployment")["reception"]
    env = env_of(reception["spec"]["template"]["spec"]["containers"][0])
    assert env["REINTEGRA_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "reintegra-reception-db",
        "key": "url",
    }
    assert (
        env["REINTEGRA_KEY_ENCRYPTION_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "reintegra-reception-kek"
    )


def test_plain_settings_render_as_the_services_read_them(render: Render) -> None:
    manifests = render(
        "--set", "config.relayBatchSize=2500", "--set-json", "components.followup.config.timerIntervalS=0.5"
    )
    followup = by_component(manifests, "Deployment")["followup"]
    env = env_of(followup["spec"]["template"]["spec"]["containers"][0])
    cls = settings_class("followup")
    plain = {n.removeprefix("REINTEGRA_").lower(): e["value"] for n, e in env.items() if "value" in e}
    settings = cls(**{k: v for k, v in plain.items() if k in cls.model_fields})
    assert settings.relay_batch_size == 2500
    assert settings.timer_interval_s == 0.5
    assert settings.http_host == "0.0.0.0"
    assert settings.service_name == "followup"
    assert settings.first_followup_after.days == 90


# -- pods ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["default", "production"])
def test_every_pod_is_restricted(which: str, request: pytest.FixtureRequest) -> None:
    manifests = request.getfixturevalue(f"{which}_manifests")
    specs = list(pod_specs(manifests))
    assert specs
    for name, spec in specs:
        assert spec["automountServiceAccountToken"] is False, name
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] > 0, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"] == {"drop": ["ALL"]}, name
            assert {"requests", "limits"} <= set(container["resources"]), name
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name
        assert {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}} in spec["volumes"], name


def test_services_are_probed_spread_and_protected(production_manifests: list[dict[str, Any]]) -> None:
    pdbs = by_component(production_manifests, "PodDisruptionBudget")
    for service, deployment in by_component(production_manifests, "Deployment").items():
        spec = deployment["spec"]["template"]["spec"]
        container = spec["containers"][0]
        assert container["command"] == ["python", "-m", f"reintegra_{service}"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["startupProbe"]["httpGet"]["path"] == "/livez"
        keys = [c["topologyKey"] for c in spec["topologySpreadConstraints"]]
        assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
        assert "replicas" not in deployment["spec"]  # the autoscaler owns it
        assert (
            pdbs[service]["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
        )
        assert spec["terminationGracePeriodSeconds"] > 10  # more than the service's own grace period


# -- migrations, housekeeping --------------------------------------------------------------------------


def test_migrations_run_as_a_hook_before_install_and_upgrade(
    production_manifests: list[dict[str, Any]],
) -> None:
    jobs = {j["metadata"]["labels"]["reintegra.org/service"]: j for j in of_kind(production_manifests, "Job")}
    deployments = by_component(production_manifests, "Deployment")
    assert set(jobs) == set(SERVICES)
    hook_accounts = [
        s
        for s in of_kind(production_manifests, "ServiceAccount")
        if "helm.sh/hook" in s["metadata"].get("annotations", {})
    ]
    assert len(hook_accounts) == 1
    for service, job in jobs.items():
        annotations = job["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert int(annotations["helm.sh/hook-weight"]) > int(
            hook_accounts[0]["metadata"]["annotations"]["helm.sh/hook-weight"]
        )
        spec = job["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == hook_accounts[0]["metadata"]["name"]
        container = spec["containers"][0]
        assert container["command"] == ["python", "-m", "reintegra_kit.migrate", service]
        service_env = deployments[service]["spec"]["template"]["spec"]["containers"][0]["env"]
        assert container["env"] == service_env  # migrates the very database the service uses


def test_no_migration_job_without_a_database(default_manifests: list[dict[str, Any]]) -> None:
    assert of_kind(default_manifests, "Job") == []
    assert of_kind(default_manifests, "CronJob") == []


def test_housekeeping_prunes_each_database_on_a_schedule(production_manifests: list[dict[str, Any]]) -> None:
    cronjobs = by_component(production_manifests, "CronJob")
    assert set(cronjobs) == set(SERVICES)
    for service, cronjob in cronjobs.items():
        assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
        container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == [
            "python",
            "-m",
            "reintegra_kit.housekeeping",
            "prune",
            service,
            "--retention",
            "P35D",
        ]
        assert "REINTEGRA_DATABASE_URL" in env_of(container)


# -- Kafka: topics, users, autoscaling -----------------------------------------------------------------


def contract_topics() -> set[str]:
    """Topics the services read or write according to their registry entries (found, not listed)."""
    return {t for spec in discover(ROOT) for t in spec.static_topics}


def directory_agencies() -> set[str]:
    return set(kafka_acl.agencies_in_directory(ROOT / kafka_acl.SAMPLE_DIRECTORIES))


def test_every_topic_of_the_contracts_has_a_kafka_topic_and_a_dead_letter_topic(
    production_manifests: list[dict[str, Any]],
) -> None:
    names = topic_names(production_manifests)
    for topic in contract_topics():
        assert topic in names
        assert topics.dead_letter_topic(topic) in names


def test_every_agency_of_the_directory_has_its_partner_topics(
    production_manifests: list[dict[str, Any]],
) -> None:
    assert set(VALUES["kafka"]["partners"]["agencies"]) == directory_agencies()
    names = topic_names(production_manifests)
    for agency in directory_agencies():
        assert topics.partner_topic(agency) in names
        assert f"reintegra.partner.{agency}.responses.v1" in names
        assert f"reintegra.partner.{agency}.responses.v1.dlq" in names


def test_topics_carry_partitions_replicas_and_retention(production_manifests: list[dict[str, Any]]) -> None:
    for topic in of_kind(production_manifests, "KafkaTopic"):
        spec = topic["spec"]
        assert spec["partitions"] == 12
        assert spec["replicas"] == 3
        assert int(spec["config"]["retention.ms"]) > 0
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "reintegra"
        assert topic["metadata"]["namespace"] == "reintegra"
    dlq = [t for t in of_kind(production_manifests, "KafkaTopic") if t["spec"]["topicName"].endswith(".dlq")]
    assert {t["spec"]["config"]["retention.ms"] for t in dlq} == {2592000000}


def test_the_topic_prefix_applies_to_topics_groups_users_and_acls(render: Render) -> None:
    manifests = render("-f", str(PRODUCTION_VALUES), "--set", "topicPrefix=staging.")
    assert all(name.startswith("staging.") for name in topic_names(manifests))
    users = {u["metadata"]["name"]: u for u in of_kind(manifests, "KafkaUser")}
    acls_file = json.loads((CHART / "files" / "acls.json").read_text(encoding="utf-8"))
    assert set(users) == {f"staging.{u['name']}" for u in acls_file["users"]}
    for user in users.values():
        for acl in user["spec"]["authorization"]["acls"]:
            assert acl["resource"]["name"].startswith("staging.")
    for service, deployment in by_component(manifests, "Deployment").items():
        env = env_of(deployment["spec"]["template"]["spec"]["containers"][0])
        group = env["REINTEGRA_CONSUMER_GROUP"]["value"]
        assert group == f"staging.reintegra-{service}"
        assert env["REINTEGRA_TOPIC_PREFIX"]["value"] == "staging."
        assert env["REINTEGRA_KAFKA_USERNAME"]["value"] == f"staging.reintegra-{service}"
        assert env["REINTEGRA_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": f"staging.reintegra-{service}",
            "key": "password",
        }
        user_acls = users[f"staging.reintegra-{service}"]["spec"]["authorization"]["acls"]
        groups = {a["resource"]["name"] for a in user_acls if a["resource"]["type"] == "group"}
        assert groups <= {group}


def test_kafka_users_follow_the_acls_file(production_manifests: list[dict[str, Any]]) -> None:
    acls_file = json.loads((CHART / "files" / "acls.json").read_text(encoding="utf-8"))
    users = {u["metadata"]["name"]: u for u in of_kind(production_manifests, "KafkaUser")}
    for entry in acls_file["users"]:
        user = users[entry["name"]]
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
        rendered = [
            (a["resource"]["type"], a["resource"]["name"], a["resource"]["patternType"], a["operations"])
            for a in user["spec"]["authorization"]["acls"]
        ]
        assert rendered == [
            (a["resource"], a["name"], a["patternType"], a["operations"]) for a in entry["acls"]
        ]
    for service in SERVICES:
        assert f"reintegra-{service}" in users


def test_keda_scales_each_service_on_its_consumer_group_lag(
    production_manifests: list[dict[str, Any]],
) -> None:
    scaled = by_component(production_manifests, "ScaledObject")
    deployments = by_component(production_manifests, "Deployment")
    assert set(scaled) == set(SERVICES)
    assert of_kind(production_manifests, "HorizontalPodAutoscaler") == []
    for service, obj in scaled.items():
        trigger = obj["spec"]["triggers"][0]
        env = env_of(deployments[service]["spec"]["template"]["spec"]["containers"][0])
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == env["REINTEGRA_CONSUMER_GROUP"]["value"]
        assert trigger["metadata"]["bootstrapServers"] == env["REINTEGRA_KAFKA_BOOTSTRAP_SERVERS"]["value"]
        assert trigger["metadata"]["sasl"] == "scram_sha512"
        assert obj["spec"]["scaleTargetRef"]["name"] == deployments[service]["metadata"]["name"]
        assert obj["spec"]["minReplicaCount"] >= 2


def test_an_hpa_is_the_fallback_without_keda(render: Render) -> None:
    manifests = render("-f", str(PRODUCTION_VALUES), "--set", "keda.enabled=false")
    assert of_kind(manifests, "ScaledObject") == []
    hpas = by_component(manifests, "HorizontalPodAutoscaler")
    assert set(hpas) == set(SERVICES)
    assert all(h["spec"]["metrics"][0]["resource"]["name"] == "cpu" for h in hpas.values())


# -- network -------------------------------------------------------------------------------------------


def test_network_policies_allow_only_dns_kafka_database_collector_and_ingress(
    production_manifests: list[dict[str, Any]],
) -> None:
    policies = by_component(production_manifests, "NetworkPolicy")
    for service in SERVICES:
        spec = policies[service]["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        egress_ports = [sorted(p["port"] for p in rule["ports"]) for rule in spec["egress"]]
        assert egress_ports == [[53, 53], [9093], [5432], [4318]]
        assert spec["egress"][2]["to"] == [{"ipBlock": {"cidr": "10.20.0.0/24"}}]
        sources = [
            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for peer in spec["ingress"][0]["from"]
        ]
        assert sources == ["ingress-nginx", "monitoring"]
        assert spec["ingress"][0]["ports"] == [{"port": "http", "protocol": "TCP"}]
    migrations = policies["migrations"]["spec"]
    assert migrations["ingress"] == []


def test_ingress_serves_each_api_over_tls(production_manifests: list[dict[str, Any]]) -> None:
    for service, ingress in by_component(production_manifests, "Ingress").items():
        host = f"{service}.reintegra.example.org"
        assert ingress["spec"]["tls"] == [{"hosts": [host], "secretName": f"reintegra-{service}-tls"}]
        assert ingress["spec"]["rules"][0]["host"] == host


# -- monitoring ----------------------------------------------------------------------------------------

METRICS_DOC = ROOT / "docs" / "metrics.md"


def documented_metrics() -> set[str]:
    return set(
        re.findall(r"^\| `(reintegra_[a-z_]+)`", METRICS_DOC.read_text(encoding="utf-8"), re.MULTILINE)
    )


def used_metrics(text: str) -> set[str]:
    names = set(re.findall(r"\breintegra_[a-z_]+\b", text))
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in names if not n.startswith("reintegra_org")}


def test_alerts_and_dashboard_use_only_the_documented_metrics(
    production_manifests: list[dict[str, Any]],
) -> None:
    documented = documented_metrics()
    assert len(documented) == 14
    (rule,) = of_kind(production_manifests, "PrometheusRule")
    exprs = " ".join(r["expr"] for g in rule["spec"]["groups"] for r in g["rules"])
    assert used_metrics(exprs) <= documented
    dashboard = (CHART / "files" / "dashboard.json").read_text(encoding="utf-8")
    assert used_metrics(dashboard) == documented  # every metric has a panel


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the headings of a Markdown text."""
    result = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        result.add(slug)
    return result


def test_every_alert_links_to_a_section_of_the_runbook(production_manifests: list[dict[str, Any]]) -> None:
    (rule,) = of_kind(production_manifests, "PrometheusRule")
    alerts = [r for g in rule["spec"]["groups"] for r in g["rules"]]
    assert {a["alert"] for a in alerts} == {
        "ReintegraOutboxStuck",
        "ReintegraDeadLettersGrowing",
        "ReintegraConsumerLagGrowing",
        "ReintegraOverdueReferralsPilingUp",
        "ReintegraDatabaseUnavailable",
    }
    sections = anchors((ROOT / "docs" / "operations.md").read_text(encoding="utf-8"))
    for alert in alerts:
        url = alert["annotations"]["runbook_url"]
        base, _, anchor = url.partition("#")
        assert base == PRODUCTION["monitoring"]["prometheusRule"]["runbookBaseUrl"]
        assert anchor in sections, f"{alert['alert']}: docs/operations.md has no section #{anchor}"


def test_the_dashboard_is_shipped_for_the_grafana_sidecar(production_manifests: list[dict[str, Any]]) -> None:
    (config_map,) = of_kind(production_manifests, "ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(config_map["data"]["reintegra.json"])
    assert dashboard["uid"] == "reintegra-overview"
    assert len(dashboard["panels"]) >= 10


def test_the_service_monitor_scrapes_every_service(production_manifests: list[dict[str, Any]]) -> None:
    (monitor,) = of_kind(production_manifests, "ServiceMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    for service in of_kind(production_manifests, "Service"):
        assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


# -- documentation -------------------------------------------------------------------------------------


def test_the_readme_values_table_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "helm" / "values_table.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_package_is_a_component() -> None:
    assert set(VALUES["components"]) == set(SERVICES)
    installed = {
        m.name.removeprefix("reintegra_") for m in pkgutil.iter_modules() if m.name.startswith("reintegra_")
    }
    assert set(SERVICES) <= installed
