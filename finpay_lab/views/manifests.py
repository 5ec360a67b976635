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
    the token secret       → a Secret (generated here: never the lab's own)

Nothing here talks to a cluster; ``tests/test_manifests.py`` checks every object against
Kubernetes' own schema (kubernetes-validate, strict).
"""

import os
import re
import secrets
import sys

SERVE_COMMAND = ["python", "-m", "finpay_lab.serve"]  # what the Dockerfile's CMD runs (see serve.COMMAND)
FINPAY_APP = "finpay_lab.finpay:app"
PORT = 8080
IMAGE = "finpay-lab:0.1.0"  # what `docker build -t finpay-lab:0.1.0 .` at the repo root builds
REDIS_IMAGE = "redis:7.4-alpine"
PRESTOP_SECONDS = 5  # the Service's endpoints (and kube-proxy, ingresses) forget the pod meanwhile
GRACE_SECONDS = 30  # Kubernetes' default: preStop + drain + in-flight requests must fit
NOTE = "finpay-lab/note"  # an annotation that says what an object is in the lab's terms


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
    replicas = sum(p.status != "dead" for p in lab.pods)  # the pods running now (0 is a valid count)

    secret_name = f"{name}-secrets"
    secret_data = {"FINPAY_SECRET": secrets.token_hex(32)}
    objects = []
    if redis:
        redis_password = secrets.token_urlsafe(24)
        secret_data["REDIS_URL"] = f"redis://:{redis_password}@redis-0.redis:6379/0"
        objects += _redis(redis_password)
    objects.insert(0, {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": secret_name, "labels": labels,
                     "annotations": {NOTE: "generated for these manifests, never the lab's own: the token-signing "
                                           "secret every pod shares" + (" and the Redis URL with its password"
                                                                        if redis else "")}},
        "type": "Opaque", "stringData": secret_data})
    objects.append(_deployment(name, labels, replicas, image, app_ref, secret_name, hpa is not None, lab.state))
    objects.append({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "labels": labels,
                     "annotations": {NOTE: "the lab's balancer: one name, requests spread over the ready pods"}},
        "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
    if hpa is not None:
        objects.append(_hpa(name, labels, hpa))
    if path is not None:
        _write(objects, path, lab, app_ref, image)
    return objects


def _deployment(name, labels, replicas, image, app_ref, secret_name, autoscaled, state):
    probe = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 2, "failureThreshold": 1,
             "timeoutSeconds": 1}
    spec = {
        "selector": {"matchLabels": labels},
        # a rollout as lab.rollout does it: one extra pod at a time, never fewer ready
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "terminationGracePeriodSeconds": GRACE_SECONDS,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001},
                "containers": [{
                    "name": "app",
                    "image": image,
                    "command": SERVE_COMMAND + ["--app", app_ref, "--port", str(PORT)],
                    "ports": [{"name": "http", "containerPort": PORT}],
                    "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                            {"name": "FINPAY_SMS_LOG", "value": "/tmp/sms-gateway.jsonl"}],
                    "envFrom": [{"secretRef": {"name": secret_name}}],
                    "readinessProbe": probe,
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10,
                                      "failureThreshold": 3, "timeoutSeconds": 2},
                    # One core requested (and the limit): 100% CPU utilization is one core
                    # busy, the way the lab's pods (one process each) count theirs.
                    "resources": {"requests": {"cpu": "1", "memory": "128Mi"},
                                  "limits": {"cpu": "1", "memory": "256Mi"}},
                    "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_SECONDS)]}}},
                    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"]}},
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }],
                "volumes": [{"name": "tmp", "emptyDir": {}}],
            },
        },
    }
    if not autoscaled:  # with an HPA, the HPA owns the count (kubectl apply would reset it)
        spec = {"replicas": replicas, **spec}
    note = (f"the lab's pods, serving over HTTP what they served over pipes; state={state!r}"
            + (": each pod keeps its own memory, so sessions and balances differ between pods, as in the lab"
               if state == "memory" else ": every pod shares the Redis StatefulSet"))
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": labels, "annotations": {NOTE: note}}, "spec": spec}


def _hpa(name, labels, hpa):
    low, high, target = int(hpa.min), int(hpa.max), float(hpa.target)
    percent = round(target * 100)
    behavior = {}
    window = getattr(hpa, "scale_down_window", None)
    if window is not None:
        behavior["scaleDown"] = {"stabilizationWindowSeconds": max(0, min(3600, round(window)))}
    note = (f"the lab's fl.HPA(min={low}, max={high}, target={target:g}): the lab's utilization is the share of time a "
            f"pod spends serving; here it is CPU used over CPU requested (1 core), so target {target:g} is "
            f"averageUtilization {percent}. Unlike the lab's, it does not count time a handler waits on Redis; "
            "the controller looks every 15 s with a 10% tolerance (cluster-wide settings)")
    spec = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": low, "maxReplicas": high,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": percent}}}]}
    if behavior:
        spec["behavior"] = behavior
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "labels": labels, "annotations": {NOTE: note}}, "spec": spec}


def _redis(password):
    labels = {"app.kubernetes.io/name": "redis", "app.kubernetes.io/part-of": "finpay-lab"}
    ping = ["sh", "-c", 'redis-cli --no-auth-warning -a "$REDIS_PASSWORD" ping | grep -q PONG']
    return [
        {"apiVersion": "v1", "kind": "Secret",
         "metadata": {"name": "redis-auth", "labels": labels,
                      "annotations": {NOTE: "generated here: the lab's Redis password never leaves the lab"}},
         "type": "Opaque", "stringData": {"REDIS_PASSWORD": password}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "redis", "labels": labels,
                      "annotations": {NOTE: "headless: gives each Redis pod a stable DNS name (redis-0.redis)"}},
         "spec": {"clusterIP": "None", "selector": labels, "ports": [{"name": "redis", "port": 6379}]}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet",
         "metadata": {"name": "redis", "labels": labels,
                      "annotations": {NOTE: "the lab's shared Redis: a stable name and its own volume, so a "
                                            "killed redis-0 comes back as redis-0 with its data (AOF on)"}},
         "spec": {
             "serviceName": "redis", "replicas": 1, "selector": {"matchLabels": labels},
             "template": {"metadata": {"labels": labels}, "spec": {
                 "securityContext": {"runAsNonRoot": True, "runAsUser": 999, "fsGroup": 999},
                 "containers": [{
                     "name": "redis", "image": REDIS_IMAGE,
                     "command": ["redis-server", "--appendonly", "yes", "--appendfsync", "everysec",
                                 "--dir", "/data", "--requirepass", "$(REDIS_PASSWORD)"],
                     "env": [{"name": "REDIS_PASSWORD",
                              "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "REDIS_PASSWORD"}}}],
                     "ports": [{"name": "redis", "containerPort": 6379}],
                     "readinessProbe": {"exec": {"command": ping}, "periodSeconds": 5},
                     "livenessProbe": {"exec": {"command": ping}, "periodSeconds": 10, "failureThreshold": 3},
                     "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
                     "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                     "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                 }]}},
             "volumeClaimTemplates": [{
                 "metadata": {"name": "data"},
                 "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}],
         }},
    ]


# ---------------------------------------------------------------- writing
def _write(objects, path, lab, app_ref, image):
    import yaml

    os.makedirs(path, exist_ok=True)
    files = []
    for n, obj in enumerate(objects, 1):
        filename = f"{n:02d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        note = obj["metadata"].get("annotations", {}).get(NOTE, "")
        header = "".join(f"# {line}\n" for line in _wrap(note)) if note else ""
        with open(os.path.join(path, filename), "w", encoding="utf-8") as f:
            f.write(header + yaml.safe_dump(obj, sort_keys=False, allow_unicode=True))
        files.append(filename)
    with open(os.path.join(path, "README.md"), "w", encoding="utf-8") as f:
        f.write(_readme(objects, files, lab, app_ref, image))
    return files


def _readme(objects, files, lab, app_ref, image):
    own_app = app_ref != FINPAY_APP
    module = app_ref.split(":")[0]
    lines = [
        "# Your lab as Kubernetes", "",
        f"The objects for the lab you ran (state={lab.state!r}, app {lab.app.name!r}), one file each, "
        "applied in file order:", "",
        *[f"- `{name}`: {obj['kind']} `{obj['metadata']['name']}`" for name, obj in zip(files, objects)], "",
        "## Apply", "",
        "```sh",
        f"docker build -t {image} --build-arg PYTHON={sys.version_info[0]}.{sys.version_info[1]} .   "
        "# at the repo root; push it where your cluster pulls from",
        "kubectl apply -f .               # in this folder: Secrets, Redis, the Deployment, its Service"
        + (", the HPA" if any(o["kind"] == "HorizontalPodAutoscaler" for o in objects) else ""),
        f"kubectl rollout status deployment/{_dns_name(lab.app.name)}",
        f"kubectl port-forward service/{_dns_name(lab.app.name)} 8080:80",
        "curl -s -X POST localhost:8080/balance -d '{\"user\": \"Ravi\"}'",
        "```", "",
    ]
    if own_app:
        lines += ["## Your own app", "",
                  f"The pods run `--app {app_ref}`: export your app from the notebook and put the file in the "
                  "image (the Dockerfile copies the repo; or add a `COPY` line):", "",
                  "```python", "from finpay_lab.serve import export",
                  f"export(app, \"{module}.py\")   # at the repo root, before docker build", "```", ""]
    lines += [
        "## What maps to what", "",
        "- **replicas** are the lab's pods; with an HPA the Deployment leaves them to it.",
        "- **readinessProbe** `/readyz`: the lab's `ready`; a pod draining after SIGTERM, or whose "
        "Redis does not answer, gets no traffic.",
        "- **livenessProbe** `/healthz`: a pod that stops answering is restarted, like `restart=True`.",
        f"- **preStop** sleeps {PRESTOP_SECONDS} s so the Service forgets the pod before it is told to stop; "
        "then `finpay_lab.serve` finishes what is in flight and exits 0, as `lab.scale` drains a pod.",
        "- **Secrets** are generated here, fresh each time: apply once, and keep them (a new "
        "FINPAY_SECRET logs every customer out).",
    ]
    if lab.state == "memory":
        lines.append("- **state='memory'**: each pod keeps its own books and sessions, exactly as in the lab, "
                     "so more than one replica shows the course's lost sessions. Use state='redis' for a "
                     "cluster.")
    if lab.state == "redis":
        lines.append("- **Redis** is a StatefulSet: `redis-0` keeps its name and its volume across restarts, "
                     "and its append-only file brings the data back.")
    if getattr(lab, "db", None) or getattr(lab, "db_url", None):
        lines.append("- **The database**: in a cluster a managed PostgreSQL (RDS, Cloud SQL, …) is the usual "
                     "choice; these manifests do not include one, and this build of `finpay_lab.serve` does not "
                     "read DATABASE_URL yet.")
    return "\n".join(lines) + "\n"


def _wrap(text, width=88):
    out, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return out + ([line] if line else [])


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
