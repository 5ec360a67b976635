"""The stores of a lab as Kubernetes StatefulSets: Redis (``state="redis"``) and PostgreSQL
(a lab with ``db=``). Used by ``manifests.to_kubernetes``; each function returns a list of
objects: a Secret with a password generated here, a headless Service, the StatefulSet.

A StatefulSet is what the lab's stores are on your laptop: one server with a **stable name**
(``redis-0``, ``postgres-0``, reachable as ``redis-0.redis`` through the headless Service)
and **its own volume** (``volumeClaimTemplates``), so a killed pod comes back under its name
with its data. A Deployment's pods are interchangeable and keep nothing; that is right for
the app, wrong for a store.

**The database.** The lab's SQL is written to run unchanged on SQLite and PostgreSQL, so a
lab with any ``db=`` becomes a PostgreSQL StatefulSet here:

* ``db="postgres"`` (or a ``postgresql://`` URL): the same kind of server, in the cluster.
* ``db="sqlite"``: SQLite is a file, opened by each pod's own process. On a laptop every
  pod opens the same file; in a cluster the pods run on different machines, a volume that
  one pod may write to mounts on one machine only (``ReadWriteOnce``), and SQLite's file
  locks are not safe over a network filesystem. Replicas would each keep their own books,
  or corrupt one. So a file database does not scale across pods, and the manifests say so
  and run the same SQL on PostgreSQL instead.

In production a managed PostgreSQL (RDS, Cloud SQL, Azure Database…) is the usual choice:
replace ``DATABASE_URL`` in the ``postgres-auth`` Secret with its URL and leave the
StatefulSet out. Either way the pods read it from that Secret (``secretKeyRef``), never from
their command line.
"""

import secrets

REDIS_IMAGE = "redis:7.4-alpine"
POSTGRES_IMAGE = "postgres:17"  # Debian-based: its postgres user is uid 999
POSTGRES_USER = "finpay"
POSTGRES_DB = "finpay"
POSTGRES_SECRET = "postgres-auth"
NOTE = "finpay-lab/note"  # an annotation that says what an object is in the lab's terms


def _labels(name):
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "finpay-lab"}


def _volume(size):
    return [
        {
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
        }
    ]


def k8s_object(api_version, kind, name, labels, note, **body):
    """A Kubernetes object: ``apiVersion``, ``kind``, its metadata (``name``, ``labels``, and
    a ``NOTE`` that says what it is in the lab's terms), then ``body`` (``spec``; a Secret's
    ``type`` and ``stringData``), in that order."""
    metadata = {"name": name, "labels": labels, "annotations": {NOTE: note}}
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}


def secret(name, labels, note, data):
    """A Secret of what was generated here (``data``, its ``stringData``)."""
    return k8s_object("v1", "Secret", name, labels, note, type="Opaque", stringData=data)


def _headless(name, port, note):
    spec = {"clusterIP": "None", "selector": _labels(name), "ports": [{"name": name, "port": port}]}
    return k8s_object("v1", "Service", name, _labels(name), note, spec=spec)


def _stateful_set(name, note, store, probe, failures, size, volumes=None):
    """One server of a store as a StatefulSet: one replica named ``name`` (``name-0``), its
    own volume of ``size`` (``data``), the pod run as uid 999 with no privileges. ``store``:
    its container's own parts (image, command, env, port, resources, volumeMounts);
    ``probe``: the command that says it is ready, and alive (after ``failures`` misses);
    ``volumes``: the pod's other volumes."""
    labels = _labels(name)
    container = {"name": name, "image": store["image"]}
    if "command" in store:
        container["command"] = store["command"]
    container |= {
        "env": store["env"],
        "ports": [{"name": name, "containerPort": store["port"]}],
        "readinessProbe": {"exec": {"command": probe}, "periodSeconds": 5},
        "livenessProbe": {"exec": {"command": probe}, "periodSeconds": 10, "failureThreshold": failures},
        "resources": store["resources"],
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": store["volumeMounts"],
    }
    pod = {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 999, "fsGroup": 999},
        "containers": [container],
    }
    if volumes:
        pod["volumes"] = volumes
    spec = {
        "serviceName": name,
        "replicas": 1,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": pod},
        "volumeClaimTemplates": _volume(size),
    }
    return k8s_object("apps/v1", "StatefulSet", name, labels, note, spec=spec)


def redis(password):
    """Redis: its Secret, headless Service and StatefulSet (AOF on, its own volume)."""
    ping = ["sh", "-c", 'redis-cli --no-auth-warning -a "$REDIS_PASSWORD" ping | grep -q PONG']
    store = {
        "image": REDIS_IMAGE,
        "command": [
            "redis-server",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--dir",
            "/data",
            "--requirepass",
            "$(REDIS_PASSWORD)",
        ],
        "env": [
            {
                "name": "REDIS_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "REDIS_PASSWORD"}},
            }
        ],
        "port": 6379,
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }
    return [
        secret(
            "redis-auth",
            _labels("redis"),
            "generated here: the lab's Redis password never leaves the lab",
            {"REDIS_PASSWORD": password},
        ),
        _headless("redis", 6379, "headless: gives each Redis pod a stable DNS name (redis-0.redis)"),
        _stateful_set(
            "redis",
            "the lab's shared Redis: a stable name and its own volume, so a "
            "killed redis-0 comes back as redis-0 with its data (AOF on)",
            store,
            ping,
            failures=3,
            size="1Gi",
        ),
    ]


def database_note(kind):
    """What the manifests say about the lab's ``db`` (kind "sqlite", "postgres" or
    "external"): why it became a PostgreSQL StatefulSet."""
    if kind == "sqlite":
        return (
            "the lab's db='sqlite' as PostgreSQL: a SQLite file is opened by each pod's own process, "
            "which works when every pod runs on one machine (the lab) and not across a cluster's nodes "
            "(a ReadWriteOnce volume mounts on one node; SQLite's locks are unsafe over network "
            "filesystems), so a file database does not scale across pods. The lab's SQL runs unchanged "
            "on PostgreSQL"
        )
    return (
        "the lab's PostgreSQL in the cluster: a stable name (postgres-0.postgres) and its own volume, "
        "so a killed postgres-0 comes back with its data; a managed PostgreSQL (RDS, Cloud SQL, …) is "
        f"the usual choice: put its URL in the {POSTGRES_SECRET} Secret's DATABASE_URL and leave this out"
    )


def postgres(kind):
    """PostgreSQL for a lab with ``db=`` of ``kind``: a Secret (a generated password, and the
    ``DATABASE_URL`` the app's pods read from it), a headless Service and a StatefulSet."""
    password = secrets.token_urlsafe(24)  # URL-safe: it goes into DATABASE_URL as it is
    url = f"postgresql://{POSTGRES_USER}:{password}@postgres-0.postgres:5432/{POSTGRES_DB}"
    ready = ["pg_isready", "-h", "127.0.0.1", "-U", POSTGRES_USER, "-d", POSTGRES_DB]
    store = {
        "image": POSTGRES_IMAGE,
        "env": [
            {"name": "POSTGRES_USER", "value": POSTGRES_USER},
            {"name": "POSTGRES_DB", "value": POSTGRES_DB},
            {
                "name": "POSTGRES_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": POSTGRES_SECRET, "key": "POSTGRES_PASSWORD"}},
            },
            # a directory inside the volume: its root holds lost+found
            {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
        ],
        "port": 5432,
        "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "volumeMounts": [
            {"name": "data", "mountPath": "/var/lib/postgresql/data"},
            {"name": "run", "mountPath": "/var/run/postgresql"},
        ],
    }
    return [
        secret(
            POSTGRES_SECRET,
            _labels("postgres"),
            "generated here, never the lab's own: the PostgreSQL password, and the "
            "DATABASE_URL the app's pods read (replace it with a managed database's URL)",
            {"POSTGRES_PASSWORD": password, "DATABASE_URL": url},
        ),
        _headless(
            "postgres", 5432, "headless: gives the PostgreSQL pod a stable DNS name (postgres-0.postgres)"
        ),
        _stateful_set(
            "postgres",
            database_note(kind),
            store,
            ready,
            failures=6,
            size="5Gi",
            volumes=[{"name": "run", "emptyDir": {}}],
        ),
    ]


def database_env():
    """The app container's ``DATABASE_URL``, from the PostgreSQL Secret (``secretKeyRef``)."""
    return {
        "name": "DATABASE_URL",
        "valueFrom": {"secretKeyRef": {"name": POSTGRES_SECRET, "key": "DATABASE_URL"}},
    }
