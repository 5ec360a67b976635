"""Link the first use of each glossary term in each lesson to notebooks/glossary.md.

    python scripts/link_glossary.py                    # every lesson, rewritten in place
    python scripts/link_glossary.py notebooks/03_*.ipynb
    python scripts/link_glossary.py --check            # exit 1 if a lesson still needs links

Only markdown cells change, and only their plain text: headings, code (fenced or
`inline`), existing links, HTML and URLs are left alone. A term is linked once per lesson,
at its first use in cell order; a lesson that already links a term's anchor anywhere keeps
that link and gets no second one, which is what makes a second run change nothing.

TERMS below maps each glossary anchor to the words that mean it. The anchors are
``<a id="...">`` lines in glossary.md (tests/test_glossary.py checks that each exists).
Longer phrases come first, so "sticky session" is linked as itself, not as "session".
"""

import argparse
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # also when loaded from its path
from _notebooks import rewrite  # noqa: E402

GLOSSARY = "glossary.md"

ICASE = re.IGNORECASE
# (anchor, pattern, flags): checked in this order; case matters for Kubernetes object names.
TERMS = [
    ("sticky-session", r"\bsticky (?:sessions?|routing|balancer)\b|\bsession affinity\b", ICASE),
    ("consistent-hashing", r"\bconsistent[- ]hash(?:ing)?\b", ICASE),
    ("idempotency-key", r"\bidempotency[- ]keys?\b", ICASE),
    ("idempotent", r"\bidempotent\b", ICASE),
    ("outbox", r"\b(?:transactional )?outbox\b", ICASE),
    ("redis-stream", r"\bRedis Streams?\b", ICASE),
    ("consumer-group", r"\bconsumer groups?\b", ICASE),
    ("pending-entry", r"\bpending (?:entr(?:y|ies)|list)\b", ICASE),
    ("at-least-once", r"\bat[- ]least[- ]once\b|\bat[- ]most[- ]once\b", ICASE),
    ("kafka", r"\bKafka\b", 0),
    ("hmac", r"\bHMAC\b|\bsigned tokens?\b", ICASE),
    ("ttl", r"\bTTLs?\b", 0),
    ("stabilization-window", r"\bstabili[sz]ation window\b", ICASE),
    ("hpa", r"\bHorizontalPodAutoscalers?\b|\bHPA\b|\bautoscalers?\b", ICASE),
    ("readiness-probe", r"\b(?:readiness|liveness) probes?\b|\breadiness\b", ICASE),
    ("prestop", r"\bpreStop\b", ICASE),
    ("rolling-update", r"\brolling updates?\b|\brollouts?\b", ICASE),
    (
        "graceful-shutdown",
        r"\bgraceful(?:ly)? (?:shutdown|termination)\b|\bgrace period\b|\bgraceful(?:ly)?\b",
        ICASE,
    ),
    ("statefulset", r"\bStatefulSets?\b", 0),
    ("replicaset", r"\bReplicaSets?\b", 0),
    ("deployment", r"\bDeployments?\b", 0),
    ("service", r"\bServices?\b", 0),
    ("persistent-volume", r"\bPersistentVolumeClaims?\b|\bpersistent volumes?\b", ICASE),
    ("load-balancer", r"\bload[- ]balanc(?:er|ers|ing)\b", ICASE),
    ("sigkill", r"\bSIGKILL\b|\bSIGTERM\b", 0),
    ("stateless", r"\bstateless\b|\bstateful\b", ICASE),
    ("pod", r"\bpods?(?![-\w])", ICASE),
    ("session", r"\bsessions?\b", ICASE),
    ("audit", r"\baudits?\b", ICASE),
    ("coordinated-omission", r"\bcoordinated omission\b", ICASE),
    ("open-loop", r"\b(?:open|closed)[- ]loop\b", ICASE),
    ("percentile", r"\bp(?:50|95|99)\b|\bpercentiles?\b", ICASE),
    ("throughput", r"\bthroughput\b", ICASE),
    ("source-of-truth", r"\bsource of truth\b", ICASE),
    ("lost-update", r"\blost updates?\b", ICASE),
    ("acid", r"\bACID\b", 0),
    ("isolation", r"\bisolation(?: levels?)?\b", ICASE),
    ("transaction", r"\btransactions?\b", ICASE),
    ("wal", r"\bWAL\b|\bwrite-ahead log\b", 0),
    ("fsync", r"\bAOF\b|\bfsync\b|\bappend-only file\b", 0),
    ("cache-aside", r"\bcache-aside\b|\bstale reads?\b", ICASE),
    ("crash-point", r"\bcrash points?\b", ICASE),
    ("failover", r"\bfail-?overs?\b", ICASE),
    ("replication", r"\breplicat(?:ion|es|ed|ing)\b|\breplicas?\b", ICASE),
    ("endpoint", r"\bendpoints?\b", ICASE),  # both senses: the glossary entry explains each
]
COMPILED = [(anchor, re.compile(pattern, flags)) for anchor, pattern, flags in TERMS]

# Text that is not prose: never linked inside.
PROTECTED = re.compile(
    r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$"  # fenced code
    r"|^ {0,3}#[^\n]*$"  # headings
    r"|`[^`\n]*`"  # inline code
    r"|!?\[[^\]\n]*\]\([^)\n]*\)"  # links and images
    r"|<a\b[^>]*>.*?</a>"  # HTML anchors with their text
    r"|<[^>\n]+>"  # other HTML tags, autolinks
    r"|https?://\S+",  # bare URLs
    re.MULTILINE | re.DOTALL,
)
LINKED = re.compile(re.escape(GLOSSARY) + r"#([\w-]+)")


def link_text(text: str, done: set) -> tuple[str, list]:
    """Link the first unprotected use of each term not in `done` (updated); return the new
    text and the anchors linked."""
    taken = [m.span() for m in PROTECTED.finditer(text)]
    found = []
    for anchor, pattern in COMPILED:
        if anchor in done:
            continue
        for m in pattern.finditer(text):
            if not any(start < m.end() and m.start() < end for start, end in taken):
                found.append((m.start(), m.end(), anchor))
                taken.append(m.span())
                done.add(anchor)
                break
    for start, end, anchor in sorted(found, reverse=True):
        text = f"{text[:start]}[{text[start:end]}]({GLOSSARY}#{anchor}){text[end:]}"
    return text, [anchor for _, _, anchor in sorted(found)]


def link_notebook(nb: dict) -> list:
    """Link the first use of each term in the notebook's markdown cells, in place; return
    the anchors linked (empty: nothing to do)."""
    cells = [c for c in nb["cells"] if c["cell_type"] == "markdown"]
    done = {a for c in cells for a in LINKED.findall("".join(c["source"]))}
    linked = []
    for cell in cells:
        source = "".join(cell["source"])
        new, anchors = link_text(source, done)
        if anchors:
            cell["source"] = new.splitlines(keepends=True)
            linked += anchors
    return linked


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if a lesson needs links")
    parser.add_argument(
        "paths", nargs="*", type=pathlib.Path, help="lessons (default: every notebooks/NN_*.ipynb)"
    )
    args = parser.parse_args(argv)
    done = "would link" if args.check else "linked"
    todo = rewrite(args.paths, link_notebook, lambda linked: f"{done} {', '.join(linked)}", args.check)
    if args.check and todo:
        print(f"{len(todo)} lesson(s) need glossary links: run python scripts/link_glossary.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
