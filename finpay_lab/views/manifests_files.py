"""Your lab as Kubernetes, on disk: one YAML file per object, in the order ``kubectl apply -f .``
applies them, each headed by what the object is in the lab's terms, and a README.md that
says how to apply them and what maps to what (``lab.to_kubernetes("k8s/")``)."""

import os
import sys

from .manifests_stores import NOTE, POSTGRES_SECRET


def write(objects, path, lab, info):
    """Write ``objects`` to ``path``; ``info``: the app's object ``name``, ``app_ref``,
    ``image``, whether the app is FinPay's (``own_app``) and the preStop seconds."""
    import yaml

    os.makedirs(path, exist_ok=True)
    files = []
    for n, obj in enumerate(objects, 1):
        filename = f"{n:02d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        note = obj["metadata"].get("annotations", {}).get(NOTE, "")
        header = "".join(f"# {line}\n" for line in wrap(note)) if note else ""
        with open(os.path.join(path, filename), "w", encoding="utf-8") as f:
            f.write(header + yaml.safe_dump(obj, sort_keys=False, allow_unicode=True))
        files.append(filename)
    with open(os.path.join(path, "README.md"), "w", encoding="utf-8") as f:
        f.write(readme(objects, files, lab, info))
    return files


def readme(objects, files, lab, info):
    app_ref, image, name = info["app_ref"], info["image"], info["name"]
    module = app_ref.split(":")[0]
    db = getattr(lab, "db", None)
    kinds = {o["kind"] for o in objects}
    stores = ", Redis" if lab.state == "redis" else ""
    stores += ", PostgreSQL" if db is not None else ""
    lines = [
        "# Your lab as Kubernetes",
        "",
        f"The objects for the lab you ran (state={lab.state!r}"
        + (f", db={db.kind if db.kind != 'external' else 'a postgresql:// URL'!r}" if db is not None else "")
        + f", app {lab.app.name!r}), one file each, applied in file order:",
        "",
        *[f"- `{file}`: {obj['kind']} `{obj['metadata']['name']}`" for file, obj in zip(files, objects)],
        "",
        "## Apply",
        "",
        "```sh",
        f"docker build -t {image} --build-arg PYTHON={sys.version_info[0]}.{sys.version_info[1]} .   "
        "# at the repo root; push it where your cluster pulls from",
        f"kubectl apply -f .               # in this folder: Secrets{stores}, the Deployment, its Service"
        + (", the HPA" if "HorizontalPodAutoscaler" in kinds else ""),
        f"kubectl rollout status deployment/{name}",
        f"kubectl port-forward service/{name} 8080:80",
        'curl -s -X POST localhost:8080/balance -d \'{"user": "Ravi"}\'',
        "```",
        "",
    ]
    if info["own_app"]:
        lines += [
            "## Your own app",
            "",
            f"The pods run `--app {app_ref}`: export your app from the notebook and put the file in the "
            "image (the Dockerfile copies the repo; or add a `COPY` line):",
            "",
            "```python",
            "from finpay_lab.serve import export",
            f'export(app, "{module}.py")   # at the repo root, before docker build',
            "```",
            "",
        ]
    lines += [
        "## What maps to what",
        "",
        "- **replicas** are the lab's pods; with an HPA the Deployment leaves them to it.",
        "- **readinessProbe** `/readyz`: the lab's `ready`; a pod draining after SIGTERM, or whose "
        "stores do not answer, gets no traffic.",
        "- **livenessProbe** `/healthz`: a pod that stops answering is restarted, like `restart=True`.",
        f"- **preStop** sleeps {info['prestop']} s so the Service forgets the pod before it is told to stop; "
        "then `finpay_lab.serve` finishes what is in flight and exits 0, as `lab.scale` drains a pod.",
        "- **Secrets** are generated here, fresh each time: apply once, and keep them (a new "
        "FINPAY_SECRET logs every customer out; a new database password locks the pods out of the "
        "database made with the old one).",
    ]
    if lab.state == "memory":
        lines.append(
            "- **state='memory'**: each pod keeps its own sessions (and, without a database, its own books), "
            "exactly as in the lab, so more than one replica shows the course's lost sessions. Use "
            "state='redis' for a cluster."
        )
    if lab.state == "redis":
        lines.append(
            "- **Redis** is a StatefulSet: `redis-0` keeps its name and its volume across restarts, "
            "and its append-only file brings the data back."
        )
    if db is not None:
        lines += _database(db.kind)
    return "\n".join(lines) + "\n"


def _database(kind):
    lines = [
        "- **The database** is a PostgreSQL StatefulSet: `postgres-0` keeps its name "
        "(`postgres-0.postgres`, through the headless Service) and its volume. The pods read "
        f"`DATABASE_URL` from the `{POSTGRES_SECRET}` Secret; on start each one creates the tables and "
        "opening accounts the database lacks and never overwrites a balance. In production a managed "
        "PostgreSQL (RDS, Cloud SQL, …) is the usual choice: put its URL in that Secret and leave "
        "the StatefulSet out."
    ]
    if kind == "sqlite":
        lines += [
            "",
            "## Why PostgreSQL, when the lab used SQLite",
            "",
            "SQLite is a file that each pod's own process opens. In the lab every pod runs on one "
            "machine and opens the same file, and SQLite's locks keep their writes in turn. A cluster "
            "spreads the pods over machines: a volume one pod may write to mounts on one machine only "
            "(ReadWriteOnce), and SQLite's locks are not safe over a network filesystem (NFS, EFS). "
            "Each replica would keep its own books (money that differs from pod to pod), or several "
            "would corrupt one file. **A file database does not scale across pods.** The lab's SQL is "
            "written to run unchanged on SQLite and PostgreSQL, so these manifests run it on "
            "PostgreSQL, a server every pod reaches over the network.",
        ]
    return lines


def wrap(text, width=88):
    out, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return out + ([line] if line else [])
