"""The deployment files under docs/deploy and the Dockerfile parse, and say what they
must: non-root, probes on /healthz, secrets only by reference, settings that validate.
(kubeconform is not installable from PyPI, npm or Debian here, so the Kubernetes schemas
are not checked; `kubectl kustomize` is used when kubectl is on the PATH.)"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from croniter import croniter

from sync.config_loader import load_yaml_text
from sync.settings import Settings, validate_settings
from tests.conftest import ROOT

DEPLOY = ROOT / "docs" / "deploy"
KUBE = DEPLOY / "kubernetes"
SECRETISH = re.compile(r"PASSWORD|TOKEN|SECRET|KEY|CREDENTIAL|STORE_URL|DSN", re.IGNORECASE)


def _documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(KUBE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                docs.append({**doc, "_file": path.name})
    return docs


def _of(kind: str) -> list[dict[str, Any]]:
    return [d for d in _documents() if d["kind"] == kind]


def _pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in _documents():
        name = f"{doc['kind']}/{doc.get('metadata', {}).get('name')}"
        if doc["kind"] in ("Deployment", "Job"):
            yield name, doc["spec"]["template"]["spec"]
        elif doc["kind"] == "CronJob":
            yield name, doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def test_every_manifest_parses_with_the_essentials() -> None:
    docs = _documents()
    assert {d["kind"] for d in docs} >= {"ConfigMap", "Secret", "Deployment", "CronJob", "Job", "Service",
                                         "PersistentVolumeClaim", "Kustomization"}
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind"), doc["_file"]
        assert doc["kind"] == "Kustomization" or doc["metadata"]["name"].startswith("clinicsync"), doc["_file"]


def test_pods_run_as_non_root_with_a_locked_down_container() -> None:
    specs = list(_pod_specs())
    assert len(specs) == 4  # the Deployment, two CronJobs and the migration Job
    for name, spec in specs:
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0, name
        assert spec.get("automountServiceAccountToken") is False, name
        for container in _containers(spec):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert container["image"].startswith("ghcr.io/clinicsync/clinicsync:"), name
            assert "limits" in container["resources"], name


def test_secrets_only_by_reference_never_inline() -> None:
    secret_names = {d["metadata"]["name"] for d in _of("Secret")}
    for name, spec in _pod_specs():
        for container in _containers(spec):
            for env in container.get("env", []):
                if SECRETISH.search(env["name"]):
                    assert "value" not in env, f"{name}: {env['name']} is inline"
                    assert env["valueFrom"]["secretKeyRef"]["name"] in secret_names, name
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secret_names, name
    for secret in _of("Secret"):
        assert all(value == "" for value in secret.get("stringData", {}).values()), "a Secret carries a value"
        assert "data" not in secret


def test_the_deployment_serves_with_probes_and_stops_within_its_grace(tmp_path: Path) -> None:
    (deployment,) = _of("Deployment")
    spec = deployment["spec"]["template"]["spec"]
    (main,) = spec["containers"]
    assert main["args"] == ["run", "--serve"]
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        assert main[probe]["httpGet"]["port"] in ports
    assert [c["args"] for c in spec["initContainers"]] == [["db", "upgrade"]]
    settings = _configmap_settings(tmp_path)
    assert settings.service.grace().total_seconds() < spec["terminationGracePeriodSeconds"]
    mounted = {v["name"] for v in spec["volumes"]}
    assert all(m["name"] in mounted for m in main["volumeMounts"])


def test_the_cronjob_pair_runs_the_once_commands() -> None:
    jobs = {c["metadata"]["name"]: c for c in _of("CronJob")}
    assert set(jobs) == {"clinicsync-sync", "clinicsync-remind"}
    args = {name: job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
            for name, job in jobs.items()}
    assert args == {"clinicsync-sync": ["sync", "--once", "--json"],
                    "clinicsync-remind": ["remind", "--once", "--json"]}
    for job in jobs.values():
        assert croniter.is_valid(job["spec"]["schedule"])
        assert job["spec"]["concurrencyPolicy"] == "Forbid"
        assert job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def _configmap_settings(secrets: Path) -> Any:
    """The ConfigMap's settings as the pod reads them: the store URL from the Secret's
    environment variable, credential files from the Secret volume (stand-ins here)."""
    (configmap,) = _of("ConfigMap")
    text = configmap["data"]["settings.yaml"].replace("${CLINICSYNC_STORE_URL}", "postgresql://u@db/clinicsync")
    for name in re.findall(r"/var/run/secrets/clinicsync/([\w.-]+)", text):
        (secrets / name).write_text("stand-in\n")
    text = text.replace("/var/run/secrets/clinicsync/", f"{secrets}/")
    loaded = load_yaml_text(text, "configmap")
    server = loaded.data.get("server")
    if "server" not in Settings.model_fields:  # a build without the HTTP server: check its section by hand
        del loaded.data["server"]
        assert server == {**server, "host": "0.0.0.0"}
    return validate_settings(loaded, "configmap", Path("/etc/clinicsync"))


def test_the_server_listens_where_the_probes_and_the_image_look() -> None:
    (configmap,) = _of("ConfigMap")
    server = yaml.safe_load(configmap["data"]["settings.yaml"])["server"]
    (deployment,) = _of("Deployment")
    (main,) = deployment["spec"]["template"]["spec"]["containers"]
    assert server["host"] == "0.0.0.0"
    assert [p["containerPort"] for p in main["ports"]] == [server["port"]]
    docker = (ROOT / "Dockerfile").read_text()
    assert f"EXPOSE {server['port']}" in docker and f"127.0.0.1:{server['port']}/healthz" in docker


def test_the_configmap_settings_validate(tmp_path: Path) -> None:
    settings = _configmap_settings(tmp_path)
    assert settings.store.url.startswith("postgresql://")
    assert [c.name for c in settings.connectors] == ["main-street", "riverside"]
    secret_keys = set(_of("Secret")[0]["stringData"])
    (configmap,) = _of("ConfigMap")
    mounted = set(re.findall(r"/var/run/secrets/clinicsync/([\w.-]+)", configmap["data"]["settings.yaml"]))
    assert mounted <= secret_keys, "settings read a credential file the Secret does not hold"


def test_the_kustomization_lists_existing_files() -> None:
    (kustomization,) = _of("Kustomization")
    assert all((KUBE / resource).is_file() for resource in kustomization["resources"])


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_kustomize_builds() -> None:
    built = subprocess.run(["kubectl", "kustomize", str(KUBE)], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    assert {d["kind"] for d in yaml.safe_load_all(built.stdout)} == {
        "ConfigMap", "Secret", "PersistentVolumeClaim", "Deployment", "Service", "PodDisruptionBudget"}


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "systemd" / name).read_text())
    return parser


def test_systemd_units() -> None:
    service = _unit("clinicsync.service")
    assert service["Service"]["ExecStart"].endswith("clinicsync run")
    assert service["Service"]["KillSignal"] == "SIGTERM" and service["Service"]["User"] == "clinicsync"
    assert service["Service"]["RestartPreventExitStatus"] == "2"
    oneshot = _unit("clinicsync-sync.service")
    assert oneshot["Service"]["Type"] == "oneshot" and "sync --once" in oneshot["Service"]["ExecStart"]
    timer = _unit("clinicsync-sync.timer")
    assert timer["Timer"]["Unit"] == "clinicsync-sync.service" and timer["Timer"]["OnCalendar"]


def test_crontab_line() -> None:
    lines = [line for line in (DEPLOY / "crontab").read_text().splitlines()
             if line.strip() and not line.startswith("#") and "=" not in line.split()[0]]
    assert len(lines) == 1
    fields = lines[0].split()
    assert croniter.is_valid(" ".join(fields[:5]))
    assert "sync --once" in lines[0]


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert stages and all("slim" in image for image in stages)
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert "uv sync --frozen" in text
    assert re.search(r"^HEALTHCHECK .*", text, re.MULTILINE) and "/healthz" in text
    assert re.search(r'^CMD \["run", "--serve"\]', text, re.MULTILINE)
    assert re.search(r'^ENTRYPOINT \["clinicsync"\]', text, re.MULTILINE)
    for folder in ("connectors", "mappings", "notifiers", "sync"):
        assert f"COPY {folder} " in text
    assert not re.search(r"(?i)^(ENV|ARG) .*(password|token|secret)", text, re.MULTILINE)
