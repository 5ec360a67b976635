"""Your lab as Kubernetes: the manifests for what a lab runs.

    lab.to_kubernetes()            # a list of dicts, one per Kubernetes object
    lab.to_kubernetes("k8s/")      # also writes one YAML file each and a README.md

What the lab did on your laptop, each object does in a cluster:

    the lab's pods         → a Deployment running ``python -m finpay_lab.serve``, the same
                             app over HTTP; its replicas are the lab's pods
    lab.call / the balancer → a Service (a stable name, spreading requests over the pods)
    a pod "ready"          → a readinessProbe on /readyz; a crashed pod restarted → the
                             livenessProbe on /healthz and the kubelet's restarts
    lab.scale / draining   → terminationGracePeriodSeconds and a preStop sleep (the Service
                             forgets the pod before it gets SIGTERM)
    the lab's autoscaler   → a HorizontalPodAutoscaler (autoscaling/v2) on CPU
    state="redis"          → a Redis StatefulSet: a stable name (redis-0), its own volume,
                             an append-only file, a headless Service
    db="postgres"/"sqlite" → a PostgreSQL StatefulSet, the same shape, and the pods'
                             DATABASE_URL from its Secret (a SQLite file does not scale
                             across a cluster's pods: ``manifests_stores.py`` says why)
    the token secret       → a Secret (generated here: never the lab's own)

This module builds the app's objects (Deployment, Service, HPA); ``manifests_stores.py``
the stores' StatefulSets, ``manifests_files.py`` the YAML files and README. Nothing here
talks to a cluster; ``tests/test_manifests.py`` and ``tests/test_manifests_db.py`` check
every object against Kubernetes' own schema (kubernetes-validate, strict).
"""

import re
import secrets

from . import manifests_files, manifests_stores
from .manifests_stores import REDIS_IMAGE, k8s_object  # noqa: F401 (REDIS_IMAGE: named here before the split)

SERVE_COMMAND = ["python", "-m", "finpay_lab.serve"]  # what the Dockerfile's CMD runs (see serve.COMMAND)
FINPAY_APP = "finpay_lab.finpay:app"
PORT = 8080
IMAGE = "finpay-lab:0.1.0"  # what `docker build -t finpay-lab:0.1.0 .` at the repo root builds
PRESTOP_SECONDS = 5  # the Service's endpoints (and kube-proxy, ingresses) forget the pod meanwhile
GRACE_SECONDS = 30  # Kubernetes' default: preStop + drain + in-flight requests must fit


def to_kubernetes(lab, path=None, image=IMAGE, app_ref=None):
    """The manifests for what ``lab`` runs: a list of dicts (Kubernetes objects). With
    ``path``, also writes them there, one YAML file each, and a README.md on applying them.

    ``app_ref`` is the ``--app MODULE:NAME`` the pods serve: the FinPay app by default; for
    your own app, export it (``finpay_lab.serve.export(app, "myapp.py")``), copy the file
    into the image, and the reference is ``myapp:app`` (the default for an app not FinPay's).
    """
    app = lab.app
    name = _dns_name(app.name)
    if app_ref is None:
        app_ref = FINPAY_APP if _is_finpay(app) else f"{_module_name(app.name)}:app"
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "finpay-lab"}
    hpa = getattr(lab, "autoscaler", None)
    redis = lab.state == "redis"
    db = getattr(lab, "db", None)  # the lab's Database (kind "sqlite", "postgres", "external"), or None
    replicas = sum(p.status != "dead" for p in lab.pods)  # the pods running now (0 is a valid count)

    secret_name = f"{name}-secrets"
    secret_data = {"FINPAY_SECRET": secrets.token_hex(32)}
    objects = []
    if redis:
        redis_password = secrets.token_urlsafe(24)
        secret_data["REDIS_URL"] = f"redis://:{redis_password}@redis-0.redis:6379/0"
        objects += manifests_stores.redis(redis_password)
    if db is not None:  # any db= becomes PostgreSQL in a cluster (manifests_stores.py says why)
        objects += manifests_stores.postgres(db.kind)
    objects.insert(
        0,
        manifests_stores.secret(
            secret_name,
            labels,
            "generated for these manifests, never the lab's own: the token-signing "
            "secret every pod shares" + (" and the Redis URL with its password" if redis else ""),
            secret_data,
        ),
    )
    objects.append(
        _deployment(
            name,
            labels,
            replicas,
            image,
            app_ref,
            secret_name,
            hpa is not None,
            lab.state,
            None if db is None else db.kind,
        )
    )
    objects.append(
        k8s_object(
            "v1",
            "Service",
            name,
            labels,
            "the lab's balancer: one name, requests spread over the ready pods",
            spec={"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        )
    )
    if hpa is not None:
        objects.append(_hpa(name, labels, hpa))
    if path is not None:
        info = {
            "name": name,
            "app_ref": app_ref,
            "image": image,
            "own_app": app_ref != FINPAY_APP,
            "prestop": PRESTOP_SECONDS,
        }
        manifests_files.write(objects, path, lab, info)
    return objects


def _deployment(name, labels, replicas, image, app_ref, secret_name, autoscaled, state, db=None):
    probe = {
        "httpGet": {"path": "/readyz", "port": "http"},
        "periodSeconds": 2,
        "failureThreshold": 1,
        "timeoutSeconds": 1,
    }
    spec = {
        "selector": {"matchLabels": labels},
        # a rollout as lab.rollout does it: one extra pod at a time, never fewer ready
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "terminationGracePeriodSeconds": GRACE_SECONDS,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001},
                "containers": [
                    {
                        "name": "app",
                        "image": image,
                        "command": SERVE_COMMAND + ["--app", app_ref, "--port", str(PORT)],
                        "ports": [{"name": "http", "containerPort": PORT}],
                        "env": [
                            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                            {"name": "FINPAY_SMS_LOG", "value": "/tmp/sms-gateway.jsonl"},
                            *([manifests_stores.database_env()] if db else []),
                        ],
                        "envFrom": [{"secretRef": {"name": secret_name}}],
                        "readinessProbe": probe,
                        "livenessProbe": {
                            "httpGet": {"path": "/healthz", "port": "http"},
                            "periodSeconds": 10,
                            "failureThreshold": 3,
                            "timeoutSeconds": 2,
                        },
                        # One core requested (and the limit): 100% CPU utilization is one core
                        # busy, the way the lab's pods (one process each) count theirs.
                        "resources": {
                            "requests": {"cpu": "1", "memory": "128Mi"},
                            "limits": {"cpu": "1", "memory": "256Mi"},
                        },
                        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_SECONDS)]}}},
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                    }
                ],
                "volumes": [{"name": "tmp", "emptyDir": {}}],
            },
        },
    }
    if not autoscaled:  # with an HPA, the HPA owns the count (kubectl apply would reset it)
        spec = {"replicas": replicas, **spec}
    note = (
        f"the lab's pods, serving over HTTP what they served over pipes; state={state!r}"
        + (
            (
                ": each pod keeps its own memory, so sessions and balances differ between pods, as in the lab"
                if db is None
                else ": each pod keeps its own sessions and cache of balances, as in the lab"
            )
            if state == "memory"
            else ": every pod shares the Redis StatefulSet"
        )
        + (
            ""
            if db is None
            else "; the books are in the PostgreSQL StatefulSet (DATABASE_URL from its Secret)"
            + (", as the lab's SQLite file does not scale across pods" if db == "sqlite" else "")
        )
    )
    return k8s_object("apps/v1", "Deployment", name, labels, note, spec=spec)


def _hpa(name, labels, hpa):
    low, high, target = int(hpa.min), int(hpa.max), float(hpa.target)
    percent = round(target * 100)
    behavior = {}
    window = getattr(hpa, "scale_down_window", None)
    if window is not None:
        behavior["scaleDown"] = {"stabilizationWindowSeconds": max(0, min(3600, round(window)))}
    note = (
        f"the lab's fl.HPA(min={low}, max={high}, target={target:g}): the lab's utilization is the share of time a "
        f"pod spends serving; here it is CPU used over CPU requested (1 core), so target {target:g} is "
        f"averageUtilization {percent}. Unlike the lab's, it does not count time a handler waits on Redis; "
        "the controller looks every 15 s with a 10% tolerance (cluster-wide settings)"
    )
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "minReplicas": low,
        "maxReplicas": high,
        "metrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": percent}},
            }
        ],
    }
    if behavior:
        spec["behavior"] = behavior
    return k8s_object("autoscaling/v2", "HorizontalPodAutoscaler", name, labels, note, spec=spec)


def _dns_name(name):
    """A Kubernetes object name (RFC 1123 label) from an app's name."""
    text = re.sub(r"[^a-z0-9-]+", "-", str(name).lower()).strip("-")[:50].strip("-")
    return text or "app"


def _module_name(name):
    text = re.sub(r"\W+", "_", str(name).lower()).strip("_")
    return text if text.isidentifier() else f"app_{text}"


def _is_finpay(app):
    from ..services.finpay import app as finpay

    return app is finpay


__all__ = ["to_kubernetes"]
