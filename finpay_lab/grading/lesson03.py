"""Lesson 03's write-code exercise: sessions that survive a crashed pod.

    def login(state, user: str): ...          # returns a session id
    def whoami(state, session: str): ...      # returns the session's user, or refuses it
    fl.checks.sessions_survive(login, whoami, state="redis")

The grader deploys the two functions as an app on 3 pods with the store the learner chose,
behind a *random* balancer (seeded: the same pods serve the same requests on every run).
Eight customers log in; every pod is asked about every session; then the pod that served
the most logins is killed (SIGKILL, what ``fl.chaos.kill`` does) and every customer asks
``whoami`` again. Last, made-up sessions (a customer's name, a real session with one
character changed) must be refused: a session anyone can guess is no session.

Nothing here depends on timing: each request is sent after the previous reply, and the
kill returns once the lab has seen the pod die.
"""

from .deploy import check_store, endpoints_app
from .report import Report, unanswered

__all__ = ["sessions_survive"]

PODS = 3
SEED = 3  # which pod serves which request: the same on every run
CAST = ["Ravi", "Meena", "Arjun", "Priya", "Kiran", "Anil", "Sana", "Landlord"]
SHAPE = "write them as def login(state, user): ... and def whoami(state, session): ..."


def sessions_survive(login, whoami, state=None) -> bool:
    """Exercise 3.3: deploy ``login``/``whoami`` on 3 pods, kill the pod that made the most
    sessions, and check that every session still answers (and a made-up one does not)."""
    if unanswered("Exercise 3.3 (login, whoami and where=)", login, whoami, state):
        return False
    import finpay_lab as fl

    check_store(state, "handlers")
    report = Report("Exercise 3.3")
    app = endpoints_app(report, "sessions", {"login": login, "whoami": whoami}, hint=SHAPE)
    if app is None:
        return False

    with fl.Lab(pods=PODS, state=state, balancer="random", seed=SEED, app=app) as lab:
        logins = {user: lab.call("login", user=user) for user in CAST}
        bad = [(u, r) for u, r in logins.items() if not r.ok or r.value is None]
        report.claim(
            "every login gives a session",
            held=not bad,
            detail=(
                f"{bad[0][0]}'s login on {bad[0][1].pod} gave "
                + (repr(bad[0][1].value) if bad[0][1].ok else bad[0][1].error)
            )
            if bad
            else f"{len(CAST)} customers logged in",
        )
        if bad:
            return report.show(hint="login must return a session id (a string) that whoami can read back")
        sessions = {user: r.value for user, r in logins.items()}
        made_on = {user: r.pod for user, r in logins.items()}

        unknown = [
            (user, pod)
            for user in CAST
            for pod in _names(lab)
            if _answer(lab.call("whoami", session=sessions[user], pod=pod)) != user
        ]
        report.claim(
            "every pod knows every session, whichever pod made it",
            held=not unknown,
            detail=_who(unknown[:3], made_on) if unknown else f"{len(CAST)} sessions asked on {PODS} pods",
        )

        victim = max(sorted(set(made_on.values())), key=list(made_on.values()).count)
        lab.kill(victim)
        asked = {user: lab.call("whoami", session=sessions[user]) for user in CAST}
        lost = [user for user in CAST if _answer(asked[user]) != user]
        report.claim(
            f"after {victim} (which made {list(made_on.values()).count(victim)} of the sessions) was killed, every whoami still answers",
            held=not lost,
            detail=(
                f"{len(lost)} of {len(CAST)} lost: "
                + ", ".join(f"{u} (made on {made_on[u]}, asked {asked[u].pod})" for u in lost)
            )
            if lost
            else f"{len(CAST)} of {len(CAST)} answered",
        )

        some = sessions["Ravi"]
        fakes = ["Ravi", "Meena", "no-such-session", _one_changed(some)]
        accepted = [
            (fake, _answer(lab.call("whoami", session=fake))) for fake in fakes if isinstance(fake, str)
        ]
        accepted = [(fake, who) for fake, who in accepted if who is not None]
    report.claim(
        "a session nobody was given is refused",
        held=not accepted,
        detail=f"whoami({accepted[0][0]!r}) answered {accepted[0][1]!r}"
        if accepted
        else "4 made-up sessions refused",
    )
    return report.show(
        hint="keep each session where every pod sees it (state.set in a lab with state='redis'), under a "
        "random id nobody can guess (secrets.token_hex), and refuse ids you don't know",
        explain="The sessions live in Redis, not in a pod: any pod answers, and a crash takes nothing with it.",
    )


def _names(lab):
    return [pod.name for pod in lab.pods]


def _answer(reply):
    """The user a whoami reply names, or None for a refusal (an error, or no answer)."""
    return reply.value if reply.ok and reply.value is not None else None


def _who(unknown, made_on):
    return "; ".join(
        f"{pod} did not know {user}'s session (made on {made_on[user]})" for user, pod in unknown
    )


def _one_changed(session):
    """``session`` with its last character changed, or None if it is not a string."""
    if not isinstance(session, str) or not session:
        return None
    return session[:-1] + ("0" if session[-1] != "0" else "1")
