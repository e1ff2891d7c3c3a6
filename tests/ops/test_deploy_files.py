"""The deployment files work: rules pass promtool, manifests pass the Kubernetes schemas
(offline, bundled by kubernetes-validate), dashboards and alerts name metrics we export,
and docs/configuration.md matches the Settings object."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from medtalk.core import metrics

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30.0"
# PromQL words that look like metric names but are not.
PROMQL_WORDS = {"up"}
METRIC_NAME = re.compile(r"\b(medtalk_[a-z0-9_]+)\b")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is required in CI (scripts/test-deps.sh installs it)")
        pytest.skip("promtool is not installed (run scripts/test-deps.sh)")
    return found


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=PROMETHEUS)


def test_alert_rules_pass_promtool_check() -> None:
    result = run(promtool(), "check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_pass_their_unit_tests() -> None:
    result = run(promtool(), "test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_config_is_valid_and_scrapes_two_nodes() -> None:
    result = run(promtool(), "check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "medtalk")
    assert len(job["static_configs"][0]["targets"]) == 2


def test_the_spec_alerts_are_all_there() -> None:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"][0]["rules"]
    names = {rule["alert"] for rule in rules}
    assert {"HighMessageLatency", "WebSocketConnectionDrop", "VideoCallFailure"} <= names
    assert {"MedtalkNodeDown", "DeadLettersGrowing", "DatabaseUnreachable"} <= names
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    for name in names:
        assert f"## {name}" in runbook, f"docs/runbook.md has no section for {name}"


def expressions(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [e for value in node.values() for e in expressions(value)]
    if isinstance(node, list):
        return [e for item in node for e in expressions(item)]
    return []


@pytest.mark.parametrize(
    "path", ["deploy/grafana/medtalk.json", "deploy/prometheus/alerts.yml"], ids=lambda p: p
)
def test_every_expression_names_metrics_we_export(path: str) -> None:
    text = (ROOT / path).read_text()
    document = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    found = expressions(document)
    assert found, f"no expressions in {path}"
    exported = metrics.sample_names()
    for expr in found:
        names = set(METRIC_NAME.findall(expr))
        assert names or set(re.findall(r"\b\w+\b", expr)) & PROMQL_WORDS, expr
        unknown = names - exported
        assert not unknown, f"{path}: {expr!r} names {unknown}, not in core/metrics.py"


def test_dashboard_covers_the_spec_key_metrics() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "medtalk.json").read_text())
    text = json.dumps(dashboard)
    for metric in (
        "medtalk_messages_delivered_within_1s_total",  # Message Delivery Rate
        "medtalk_websocket_connections",  # connection stability
        "medtalk_call_quality_score_bucket",  # Video Call Quality Score
        "medtalk_active_conversations",  # Active Conversations
        "medtalk_video_calls_active",  # Concurrent Video Calls
    ):
        assert metric in text
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def manifests() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found.append((f"{path.name}:{document['kind']}", document))
    return found


@pytest.mark.parametrize(("name", "manifest"), manifests(), ids=[n for n, _ in manifests()])
def test_manifest_passes_the_kubernetes_schema(name: str, manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_existing_files_and_never_the_secret_template() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (K8S / resource).exists(), resource
    assert "secret.example.yaml" not in kustomization["resources"]


def test_serve_deployment_follows_the_spec() -> None:
    by_kind = {name: manifest for name, manifest in manifests()}
    serve = by_kind["deployment-serve.yaml:Deployment"]
    assert serve["spec"]["replicas"] == 5
    container = serve["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert serve["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    worker = by_kind["deployment-worker.yaml:Deployment"]
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"] == ["worker"]
    assert by_kind["hpa.yaml:HorizontalPodAutoscaler"]["spec"]["minReplicas"] == 5
    secret = by_kind["secret.example.yaml:Secret"]
    assert all("REPLACE_ME" in value for value in secret["stringData"].values())


def test_dockerfile_is_multi_stage_non_root_and_serves() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) >= 2
    final = lines[lines.index(stages[-1]) :]
    user = [line for line in final if line.startswith("USER ")]
    assert user and user[-1].split()[1].split(":")[0] not in ("root", "0")
    assert 'ENTRYPOINT ["medtalk"]' in final and 'CMD ["serve"]' in final
    assert any(line.startswith("COPY --from=") for line in final)
    assert any("/healthz" in line for line in final)


def test_configuration_reference_is_generated_from_settings() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen-config-docs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
