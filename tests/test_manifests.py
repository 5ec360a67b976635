"""lab.to_kubernetes (views/manifests.py): what a lab runs, as Kubernetes objects that
Kubernetes' own schema accepts (kubernetes-validate, strict), and that match the server
and the Dockerfile (issue 12)."""

import json
import pathlib
import subprocess
import sys
import types

import pytest
import yaml

import finpay_lab as fl
from finpay_lab import serve
from finpay_lab.views.manifests import to_kubernetes

kubernetes_validate = pytest.importorskip("kubernetes_validate")

K8S_VERSION = "1.31"
ROOT = pathlib.Path(__file__).resolve().parent.parent


def validate(obj):
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def by_kind(objects):
    found = {}
    for obj in objects:
        found.setdefault(obj["kind"], []).append(obj)
    return found


@pytest.fixture(scope="module")
def redis_lab():
    with fl.Lab(pods=3, state="redis") as lab:
        yield lab


@pytest.fixture(scope="module")
def memory_lab():
    with fl.Lab(pods=2) as lab:
        yield lab


def hpa(min=3, max=30, target=0.8, scale_down_window=5.0):
    """What fl.HPA offers the manifests (being built beside this): min, max, target."""
    return types.SimpleNamespace(min=min, max=max, target=target, scale_down_window=scale_down_window)


def test_every_manifest_validates_against_kubernetes_schema(redis_lab, memory_lab, monkeypatch):
    monkeypatch.setattr(redis_lab, "autoscaler", hpa(), raising=False)
    for lab in (redis_lab, memory_lab):
        for obj in to_kubernetes(lab):
            validate(obj)


def test_the_validator_is_strict():
    """An unknown field or a wrong type fails: a passing validation means something."""
    with fl.Lab(pods=1) as lab:
        deployment = by_kind(to_kubernetes(lab))["Deployment"][0]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    deployment = json.loads(
        json.dumps(deployment).replace('"containerPort": 8080', '"containerPort": "8080"')
    )
    del deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"]
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)


def test_a_memory_lab_is_a_deployment_and_a_service(memory_lab):
    kinds = by_kind(to_kubernetes(memory_lab))
    assert sorted(kinds) == ["Deployment", "Secret", "Service"]
    deployment = kinds["Deployment"][0]
    assert deployment["spec"]["replicas"] == 2  # the lab's pods
    env = deployment["spec"]["template"]["spec"]["containers"][0]
    assert not any("REDIS_URL" in s for s in kinds["Secret"][0]["stringData"])  # pod memory, as in the lab
    assert env["envFrom"] == [{"secretRef": {"name": "finpay-secrets"}}]


def test_a_redis_lab_gets_a_redis_statefulset_with_its_volume_and_aof(redis_lab):
    kinds = by_kind(to_kubernetes(redis_lab))
    statefulset = kinds["StatefulSet"][0]
    headless = [s for s in kinds["Service"] if s["metadata"]["name"] == statefulset["spec"]["serviceName"]]
    assert headless and headless[0]["spec"]["clusterIP"] == "None"
    assert statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    command = statefulset["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    secrets = {k: v for s in kinds["Secret"] for k, v in s["stringData"].items()}
    assert secrets["REDIS_URL"] == f"redis://:{secrets['REDIS_PASSWORD']}@redis-0.redis:6379/0"


def test_secrets_are_generated_never_the_lab_s_own(redis_lab):
    first, second = to_kubernetes(redis_lab), to_kubernetes(redis_lab)
    text = json.dumps(first)
    assert redis_lab._config["secret"] not in text  # the lab's token secret stays in the lab
    lab_url = redis_lab.redis_url
    assert lab_url not in text
    password = lab_url.split("@")[0].rsplit(":", 1)[-1]  # redis://:<password>@host:port/0
    assert len(password) >= 16 and password not in text
    secret = lambda objs: by_kind(objs)["Secret"][0]["stringData"]["FINPAY_SECRET"]  # noqa: E731
    assert len(secret(first)) == 64 and secret(first) != secret(second)


def test_the_hpa_is_the_lab_s_autoscaler(redis_lab, monkeypatch):
    monkeypatch.setattr(
        redis_lab, "autoscaler", hpa(min=2, max=12, target=0.65, scale_down_window=7.0), raising=False
    )
    kinds = by_kind(to_kubernetes(redis_lab))
    spec = kinds["HorizontalPodAutoscaler"][0]["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 12)
    assert spec["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 65}
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 7
    assert spec["scaleTargetRef"]["name"] == kinds["Deployment"][0]["metadata"]["name"]
    assert "replicas" not in kinds["Deployment"][0]["spec"]  # the HPA owns the count
    container = kinds["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"]["cpu"] == "1"  # utilization 100% = one core, as in the lab
    monkeypatch.setattr(redis_lab, "autoscaler", None)
    assert "HorizontalPodAutoscaler" not in by_kind(to_kubernetes(redis_lab))


def _dockerfile_cmd_and_port():
    text = (ROOT / "Dockerfile").read_text()
    cmd = [line for line in text.splitlines() if line.startswith("CMD ")]
    expose = [line for line in text.splitlines() if line.startswith("EXPOSE ")]
    assert len(cmd) == 1 and len(expose) == 1
    return json.loads(cmd[0][4:]), int(expose[0].split()[1])


def test_the_dockerfile_runs_what_the_deployment_runs(memory_lab):
    deployment = by_kind(to_kubernetes(memory_lab))["Deployment"][0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    cmd, port = _dockerfile_cmd_and_port()
    assert (
        cmd
        == container["command"]
        == [*serve.COMMAND, "--app", serve.DEFAULT_APP, "--port", str(serve.DEFAULT_PORT)]
    )
    assert port == container["ports"][0]["containerPort"] == serve.DEFAULT_PORT
    text = (ROOT / "Dockerfile").read_text()
    assert "pip install ." in text and "\nUSER 10001" in text  # not root
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_the_deployment_s_command_serves_its_probes(memory_lab, tmp_path):
    """Run the Deployment's own command (on a free port here) and ask its probes' paths."""
    from .test_serve import Server

    container = by_kind(to_kubernetes(memory_lab))["Deployment"][0]["spec"]["template"]["spec"]["containers"][
        0
    ]
    command = container["command"]
    assert command[:3] == ["python", "-m", "finpay_lab.serve"]
    server = Server("pod-x", args=command[3:])  # the Deployment's args; the test's --port 0 wins
    try:
        assert f"--port {container['ports'][0]['containerPort']}" in " ".join(command)
        server.wait_ready()
        for probe in ("readinessProbe", "livenessProbe"):
            get = container[probe]["httpGet"]
            assert get["port"] == container["ports"][0]["name"]
            assert server.request("GET", get["path"])[0] == 200
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
        assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in container[
            "env"
        ]
    finally:
        server.stop()


def test_with_a_path_it_writes_one_yaml_each_and_a_readme(redis_lab, tmp_path, monkeypatch):
    monkeypatch.setattr(redis_lab, "autoscaler", hpa(), raising=False)
    objects = to_kubernetes(redis_lab, tmp_path / "k8s")
    files = sorted((tmp_path / "k8s").glob("*.yaml"))
    assert len(files) == len(objects)
    assert [yaml.safe_load(f.read_text()) for f in files] == objects  # in apply order
    readme = (tmp_path / "k8s" / "README.md").read_text()
    assert "kubectl apply -f ." in readme and "docker build" in readme
    assert "averageUtilization 80" in files[-1].read_text()  # the HPA says what its target maps to


def test_a_learner_s_app_is_served_from_its_exported_module(tmp_path):
    app = fl.App("Counter App")

    @app.endpoint
    def update_balance(state, amount: int, user="Ravi"):
        return state.incr(f"balance:{user}", amount, initial=1000)

    with fl.Lab(pods=1, app=app) as lab:
        objects = to_kubernetes(lab, tmp_path)
    deployment = by_kind(objects)["Deployment"][0]
    assert deployment["metadata"]["name"] == "counter-app"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["command"][-3:] == [
        "counter_app:app",
        "--port",
        "8080",
    ]
    assert 'export(app, "counter_app.py")' in (tmp_path / "README.md").read_text()
    for obj in objects:
        validate(obj)


def test_the_server_runs_as_the_readme_says():
    """`python -m finpay_lab.serve --help` works: the entry point the image runs exists."""
    done = subprocess.run(
        [sys.executable, "-m", "finpay_lab.serve", "--help"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0 and "--app" in done.stdout and "--port" in done.stdout


def test_the_lab_and_the_app_reach_manifests_and_export_through_the_package(memory_lab, tmp_path):
    """lab.to_kubernetes() and app.export() are the notebook's doors (the runtime reaches
    views/ and serve through the package's lazy attributes, never by import)."""
    objects = memory_lab.to_kubernetes()
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        (o["kind"], o["metadata"]["name"]) for o in to_kubernetes(memory_lab)
    ]
    for obj in objects:
        validate(obj)
    app = fl.App("counter")

    @app.endpoint
    def hits(state):
        return state.incr("hits")

    assert app.export(tmp_path / "counter.py") == "counter:app"
    assert (tmp_path / "counter.py").is_file()
