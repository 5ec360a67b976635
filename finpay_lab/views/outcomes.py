"""What was lost, drawn: each customer's balance as each pod sees it, and what each customer
lost by the audit's count. ``fl.plots.balances`` and ``fl.plots.losses`` draw with these
(plots.py keeps the time figures; this module the outcome figures)."""

from collections import Counter

from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..errors import BadInput
from ..numbers import is_number, is_whole
from . import run_data
from .plots import LabFigure, pod_colour, pod_hatch
from .style import FAILED, LOSSES, caption, say, styled


@styled
def balances(data, users=None, limit=12):
    """Each customer's balance as each pod sees it: one bar per pod, grouped by customer.

    ``data`` is a Lab (its ``balances()`` are drawn) or ``{user: {pod: balance}}``. Shown:
    ``users``, or up to ``limit`` customers, those the pods disagree on first.
    """
    if callable(getattr(data, "balances", None)):
        data = data.balances()
    if not isinstance(data, dict) or not all(
        isinstance(seen, dict) and all(map(is_number, seen.values())) for seen in data.values()
    ):
        raise BadInput("balances needs a Lab or a dict {user: {pod: balance in ₹}}")
    split = [u for u in data if len(set(data[u].values())) > 1]
    if users is None and not is_whole(limit, 1):
        raise BadInput(f"limit must be a whole number of customers ≥ 1, not {limit!r}")
    if users is None:
        chosen = set((split + [u for u in data if u not in split])[:limit])
        users = [u for u in data if u in chosen]
    elif isinstance(users, str) or not set(users) <= set(data):
        unknown = [u for u in ([users] if isinstance(users, str) else users) if u not in data]
        raise BadInput(f"users must be a list of customers; no balances for {unknown}")
    pods = run_data.sorted_pods(p for u in users for p in data[u])
    fig = LabFigure(figsize=(10, 4), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / max(len(pods), 1)
    for i, pod in enumerate(pods):
        xs = [x for x, user in enumerate(users) if pod in data[user]]
        ax.bar(
            [x - 0.4 + (i + 0.5) * width for x in xs],
            [data[users[x]][pod] for x in xs],
            width,
            color=pod_colour(pod),
            hatch=pod_hatch(pod),
            label=pod,
            gid=f"balance:{pod}",
        )
    many = len(users) > 8
    ax.set_xticks(
        range(len(users)),
        [f"{u} ≠" if u in split else u for u in users],
        rotation=30 * many,
        ha="right" if many else "center",
    )
    for label, user in zip(ax.get_xticklabels(), users, strict=True):
        label.set_color(FAILED if user in split else "black")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"₹{v:,.0f}"))
    ax.set_ylabel("balance (₹)")
    notes = [f"{len(users)} of {len(data)} shown"] * (len(users) < len(data))
    notes += ["≠: the pods disagree"] * bool(split)
    ax.set_xlabel("customer" + (f" ({'; '.join(notes)})" if notes else ""))
    ax.grid(axis="x", visible=False)
    title = "Balances as each pod sees them: "
    if split:
        ax.set_title(f"{title}the pods disagree on {len(split)} of {len(data)} customers", color=FAILED)
    else:
        ax.set_title(title + ("every pod agrees" if users else "none yet"))
    if pods:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), title="pod", ncols=1 + len(pods) // 16)
    agree = f"they disagree on {len(split)} of {len(data)}" if split else "they all agree"
    return caption(
        fig,
        f"Each customer's balance as each of {len(pods)} pod{'s' * (len(pods) != 1)} sees it "
        f"({len(users)} of {len(data)} customers shown): {agree}.",
    )


@styled
def losses(audit, limit=20):
    """What each customer lost: sessions, payments, SMS alerts, and a correct balance (a
    customer whose balance is wrong, below zero or different on each pod counts once).
    The ``limit`` customers who lost most are shown."""
    if not any(hasattr(audit, f) for f in ("lost_sessions", "notifications", "divergent_balances")):
        raise BadInput(f"losses needs an audit (lab.audit() or run.audit()), not {type(audit).__name__}")
    if not is_whole(limit, 1):
        raise BadInput(f"limit must be a whole number of customers ≥ 1, not {limit!r}")

    def field(name, empty=()):
        return getattr(audit, name, None) or empty

    alerts = getattr(field("notifications", None), "lost", None) or ()
    wrong = {
        **field("wrong_balances", {}),
        **field("divergent_balances", {}),
        **field("negative_balances", {}),
    }
    counts = [
        Counter(field("lost_sessions")),
        Counter(p[1] for p in field("lost_payments")),  # sender
        Counter(user for user, _ in alerts),
        Counter(dict.fromkeys(wrong, 1)),
    ]
    money, twice = field("money_created", 0), len(field("double_debits", ()))
    problems = [f"₹{abs(money):,} {'created out of nothing' if money > 0 else 'destroyed'}"] * bool(money)
    problems += [f"{twice} payment{'s' * (twice != 1)} applied twice"] * bool(twice)
    everyone = sorted(set().union(*counts), key=lambda u: (-sum(c[u] for c in counts), u))
    users = everyone[:limit]
    fig = LabFigure(figsize=(10, min(2.5 + 0.35 * len(users), 10)), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(
        "; ".join(["What customers lost" + (f": {len(everyone)} affected" if users else "")] + problems),
        color=FAILED if users or problems else "black",
    )
    if not users:
        text = (
            f"No customer lost anything, but {' and '.join(problems)}"
            if problems
            else "Nothing lost: every session, payment, alert and balance is intact ✓"
        )
        say(ax, text, color=FAILED if problems else "#2e7d32", gid="nothing-lost")
        ax.set_axis_off()
        return caption(
            fig, "What the audit found customers lost: " + (", ".join(problems) or "nothing") + "."
        )
    left = [0] * len(users)
    for (label, colour), count in zip(LOSSES, counts, strict=True):
        values = [count[u] for u in users]
        bars = ax.barh(
            users,
            values,
            left=left,
            color=colour,
            label=label,
            height=0.6,
            gid=label,
            edgecolor="white",
            lw=1,
        )
        ax.bar_label(bars, [v or "" for v in values], label_type="center", color="white", fontsize=9)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.invert_yaxis()  # the customer who lost most on top
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    shown = f"; the {len(users)} of {len(everyone)} who lost most" if len(users) < len(everyone) else ""
    ax.set_xlabel(f"things lost (count{shown})")
    ax.grid(axis="y", visible=False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    totals = "; ".join(
        [f"{label} {sum(c.values())}" for (label, _), c in zip(LOSSES, counts, strict=True) if c] + problems
    )
    return caption(
        fig,
        f"Losses the audit found per customer ({len(users)} of {len(everyone)} shown, most first): {totals}.",
    )
