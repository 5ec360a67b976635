"""Lesson 02's write-code exercise: a token that any pod can check, looking nothing up.

    def issue_token(state, user: str): ...    # a token for user
    def check_token(state, token: str): ...   # its user, or refuse it (fl.Rejected)
    fl.checks.signed_tokens(issue_token, check_token)

The grader deploys the two functions on 3 pods that keep ``state`` in their own memory (so
a token remembered by the pod that issued it is unknown to the others). Three customers
get a token, each from another pod; every pod must accept every token, also after the pod
that issued Ravi's was killed; and every pod must refuse forgeries: the token with another
customer's name in it, the token with one character changed, a bare name. What passes is
a signature (an HMAC) with a secret every pod shares, as FinPay's ``login`` does
(``services/auth.py``). A secret each pod makes for itself is state too, and fails.

Nothing here depends on timing: each request is sent after the previous reply.
"""

from .deploy import endpoints_app
from .report import Report, unanswered

__all__ = ["signed_tokens"]

PODS = 3
USERS = ["Ravi", "Meena", "Arjun"]
SHAPE = "write them as def issue_token(state, user): ... and def check_token(state, token): ..."


def signed_tokens(issue_token, check_token) -> bool:
    """Exercise 2.3: deploy ``issue_token``/``check_token`` on 3 pods with memory state and
    check that any pod accepts a real token and refuses a forged one."""
    if unanswered("Exercise 2.3 (issue_token and check_token)", issue_token, check_token):
        return False
    import finpay_lab as fl

    report = Report("Exercise 2.3")
    functions = {"issue_token": issue_token, "check_token": check_token}
    app = endpoints_app(report, "tokens", functions, hint=SHAPE)
    if app is None:
        return False

    with fl.Lab(pods=PODS, state="memory", app=app) as lab:
        # one customer per pod, so that every pod has issued a token the others must accept
        issued = {user: lab.call("issue_token", user=user, pod=f"pod-{n}") for n, user in enumerate(USERS, 1)}
        bad = [(u, r) for u, r in issued.items() if not r.ok or not isinstance(r.value, str)]
        report.claim(
            "every customer gets a token (a string)",
            held=not bad,
            detail=f"{bad[0][0]}'s token from {bad[0][1].pod}: "
            + (repr(bad[0][1].value)[:60] if bad[0][1].ok else bad[0][1].error)
            if bad
            else ", ".join(f"{u} from {r.pod}" for u, r in issued.items()),
        )
        if bad:
            return report.show(hint="issue_token must return the token, a string")
        tokens = {user: r.value for user, r in issued.items()}
        pods = [pod.name for pod in lab.pods]
        refused = [
            (u, pod)
            for u in USERS
            for pod in pods
            if _user(lab.call("check_token", token=tokens[u], pod=pod)) != u
        ]
        report.claim(
            "every pod accepts every token, whichever pod issued it",
            held=not refused,
            detail="; ".join(
                f"{pod} refused {u}'s token (issued by {issued[u].pod})" for u, pod in refused[:3]
            )
            + (": a token remembered by one pod is state, and other pods don't have it" if refused else "")
            if refused
            else f"{len(USERS)} tokens on {PODS} pods",
        )

        victim = issued["Ravi"].pod
        lab.kill(victim)
        after = [lab.call("check_token", token=tokens["Ravi"], pod=pod) for pod in pods if pod != victim]
        report.claim(
            f"Ravi's token still works after {victim}, which issued it, was killed",
            held=all(_user(r) == "Ravi" for r in after),
            detail=", ".join(
                f"{r.pod} " + (f"said {r.value!r}" if _user(r) else "refused it") for r in after
            ),
        )

        forged = {
            "Ravi's token with Meena's name in it": tokens["Ravi"].replace("Ravi", "Meena", 1),
            "Ravi's token with its last character changed": _one_changed(tokens["Ravi"]),
            "the bare name 'Ravi'": "Ravi",
        }
        forged = {what: fake for what, fake in forged.items() if fake != tokens["Ravi"]}
        accepted = []
        for what, fake in forged.items():
            for pod in pods:
                if pod != victim and _user(lab.call("check_token", token=fake, pod=pod)) is not None:
                    accepted.append((what, pod))
    report.claim(
        "every pod refuses a forged token",
        held=not accepted,
        detail=f"{accepted[0][1]} accepted {accepted[0][0]}"
        if accepted
        else f"{len(forged)} forgeries refused",
    )
    return report.show(
        hint="sign the user's name with a secret every pod shares: hmac.new(SECRET, user.encode(), 'sha256').hexdigest(), "
        "token = user + '.' + signature; to check, sign the name again and compare with hmac.compare_digest",
        explain="The token carries its own proof: any pod can check it, even one that has never seen the customer.",
    )


def _user(reply):
    """The user a check_token reply names, or None for a refusal (an error, or no answer)."""
    return reply.value if reply.ok and reply.value not in (None, False) else None


def _one_changed(token):
    return token[:-1] + ("0" if token[-1] != "0" else "1") if token else token
