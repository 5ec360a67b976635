"""lab.to_kubernetes for a lab with a database (issue 12, views/manifests_stores.py): a
PostgreSQL StatefulSet with a headless Service and its own volume, a Secret with a password
generated here (never the lab's), the Deployment's DATABASE_URL from that Secret; a SQLite
lab becomes PostgreSQL too, and its README says why. Every object validates against
Kubernetes' own schema, strict. And the manifests modules stay small once formatted."""

import json
import pathlib
import subprocess
import sys
import urllib.parse

import pytest
import yaml

import finpay_lab as fl
from finpay_lab.stores.postgres_server import have_postgres
from finpay_lab.views.manifests import to_kubernetes

kubernetes_validate = pytest.importorskip("kubernetes_validate")
needs_postgres = pytest.mark.skipif(
    not have_postgres(), reason="no PostgreSQL server binaries on this machine"
)

K8S_VERSION = "1.31"
ROOT = pathlib.Path(__file__).resolve().parent.parent


def validate(obj):
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def by_kind(objects):
    found = {}
    for obj in objects:
        found.setdefault(obj["kind"], []).append(obj)
    return found


def named(objects, kind, name):
    [obj] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def app_container(objects):
    return by_kind(objects)["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]


@pytest.fixture(scope="module")
def sqlite_lab():
    with fl.Lab(pods=2, state="redis", db="sqlite") as lab:
        yield lab


@pytest.fixture(scope="module")
def postgres_lab():
    if not have_postgres():
        pytest.skip("no PostgreSQL server binaries on this machine")
    with fl.Lab(pods=2, db="postgres") as lab:
        yield lab


def check_postgres(objects):
    """The PostgreSQL objects hang together: the URL the pods read names the StatefulSet's
    pod through its headless Service, with the password the server starts with."""
    secret = named(objects, "Secret", "postgres-auth")["stringData"]
    statefulset = named(objects, "StatefulSet", "postgres")
    headless = named(objects, "Service", "postgres")
    assert headless["spec"]["clusterIP"] == "None"
    assert statefulset["spec"]["serviceName"] == "postgres" and statefulset["spec"]["replicas"] == 1
    [claim] = statefulset["spec"]["volumeClaimTemplates"]
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    assert {"name": claim["metadata"]["name"], "mountPath": "/var/lib/postgresql/data"} in container[
        "volumeMounts"
    ]
    env = {e["name"]: e for e in container["env"]}
    assert env["POSTGRES_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": "postgres-auth", "key": "POSTGRES_PASSWORD"}
    }
    url = urllib.parse.urlsplit(secret["DATABASE_URL"])
    assert url.scheme == "postgresql" and url.hostname == "postgres-0.postgres" and url.port == 5432
    assert url.password == secret["POSTGRES_PASSWORD"] and len(url.password) >= 24
    assert url.username == env["POSTGRES_USER"]["value"] and url.path == "/" + env["POSTGRES_DB"]["value"]
    # the app's pods read DATABASE_URL from that Secret, never from their command line
    app_env = {e["name"]: e for e in app_container(objects)["env"]}
    assert app_env["DATABASE_URL"] == {
        "name": "DATABASE_URL",
        "valueFrom": {"secretKeyRef": {"name": "postgres-auth", "key": "DATABASE_URL"}},
    }
    assert "postgres" not in " ".join(app_container(objects)["command"])
    for obj in objects:
        validate(obj)
    return secret


@needs_postgres
def test_a_postgres_lab_gets_a_postgres_statefulset_and_the_pods_its_url(postgres_lab):
    objects = to_kubernetes(postgres_lab)
    assert [o["kind"] for o in objects].count("StatefulSet") == 1  # state="memory": no Redis
    secret = check_postgres(objects)
    text = json.dumps(objects)
    lab_password = urllib.parse.urlsplit(postgres_lab.db_url).password
    assert lab_password and lab_password not in text  # the lab's own password stays in the lab
    assert postgres_lab.db_url not in text
    again = named(to_kubernetes(postgres_lab), "Secret", "postgres-auth")["stringData"]
    assert again["POSTGRES_PASSWORD"] != secret["POSTGRES_PASSWORD"]  # generated afresh each time
    note = by_kind(objects)["Deployment"][0]["metadata"]["annotations"]["finpay-lab/note"]
    assert "PostgreSQL StatefulSet" in note


def test_a_sqlite_lab_becomes_postgres_and_its_readme_says_why(sqlite_lab, tmp_path):
    objects = to_kubernetes(sqlite_lab, tmp_path / "k8s")
    check_postgres(objects)
    statefulsets = {s["metadata"]["name"] for s in by_kind(objects)["StatefulSet"]}
    assert statefulsets == {"redis", "postgres"}  # state="redis" keeps its Redis beside the database
    note = named(objects, "StatefulSet", "postgres")["metadata"]["annotations"]["finpay-lab/note"]
    assert "does not scale across pods" in note
    readme = (tmp_path / "k8s" / "README.md").read_text()
    assert "A file database does not scale across pods." in readme
    assert "ReadWriteOnce" in readme and "managed" in readme
    assert "does not read DATABASE_URL yet" not in readme  # what the README said before
    files = sorted((tmp_path / "k8s").glob("*.yaml"))
    assert [yaml.safe_load(f.read_text()) for f in files] == objects
    # the Secrets come before what reads them, in kubectl's file order
    order = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert order.index(("Secret", "postgres-auth")) < order.index(("Deployment", "finpay"))
    assert order.index(("StatefulSet", "postgres")) < order.index(("Deployment", "finpay"))


def test_a_lab_without_a_database_has_no_database_url():
    with fl.Lab(pods=1) as lab:
        objects = to_kubernetes(lab)
    assert "DATABASE_URL" not in json.dumps(objects) and "postgres" not in json.dumps(objects)


def test_the_validator_refuses_a_broken_statefulset(sqlite_lab):
    """A wrong type in the PostgreSQL StatefulSet fails the strict validation: its passing means something."""
    statefulset = named(to_kubernetes(sqlite_lab), "StatefulSet", "postgres")
    statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["accessModes"] = "ReadWriteOnce"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(statefulset)


MANIFEST_MODULES = ["manifests.py", "manifests_stores.py", "manifests_files.py"]


@pytest.mark.parametrize("module", MANIFEST_MODULES)
def test_each_manifests_module_is_at_most_400_lines_as_ruff_formats_it(module, tmp_path):
    source = ROOT / "finpay_lab" / "views" / module
    copy = tmp_path / module
    copy.write_text(source.read_text())
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--config", str(ROOT / "pyproject.toml"), str(copy)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert len(copy.read_text().splitlines()) <= 400
