"""The graders of lessons 01-04's write-code exercises: a right answer passes, a wrong one
prints ❌ and names what broke, and an unwritten one prints no verdict.

Each grader deploys the answer on real pods (a random balancer with a fixed seed, a real
SIGKILL, a crash point at a named moment), so these tests run the same experiment a
learner's answer meets, and the same verdict comes out on every run and every machine.
"""

import hashlib
import hmac
import secrets

import pytest

import finpay_lab as fl

# ---------------------------------------------------------------- answers, right and wrong


def visit(state, user: str):
    return state.incr(f"visits:{user}")


COUNTS = {}


def visit_in_a_global(state, user: str):
    COUNTS[user] = COUNTS.get(user, 0) + 1
    return COUNTS[user]


def visit_of_anyone(state, user: str):
    return state.incr("visits")


def login(state, user: str):
    session = secrets.token_hex(16)
    state.set(f"session:{session}", user, ttl=3600)
    return session


def whoami(state, session: str):
    user = state.get(f"session:{session}")
    if user is None:
        raise fl.Rejected("unknown session, please log in again")
    return user


def login_by_name(state, user: str):
    return user


def whoami_by_name(state, session: str):
    return session


def send_then_ack(queue, send):
    entry = queue.take()
    if entry is None:
        return
    item_id, sms = entry
    send(sms)
    queue.ack(item_id)


def ack_then_send(queue, send):
    entry = queue.take()
    if entry is None:
        return
    item_id, sms = entry
    queue.ack(item_id)
    send(sms)


def send_never_ack(queue, send):
    entry = queue.take()
    if entry is not None:
        send(entry[1])


def stub(*args): ...


def verdict(capsys, grader, *args, **kwargs):
    passed = grader(*args, **kwargs)
    return passed, capsys.readouterr().out


# ---------------------------------------------------------------- lesson 01: visit counter


def test_a_shared_counter_agrees_on_every_pod(capsys):
    passed, out = verdict(capsys, fl.checks.visit_counter, visit, state="redis")
    assert passed and out.startswith("✅ Exercise 1.3") and "BROKE" not in out


@pytest.mark.parametrize(
    ("answer", "where", "broke"),
    [
        (visit, "memory", "had not seen all the earlier ones"),  # the right code, the wrong store
        (visit_in_a_global, "redis", "had not seen all the earlier ones"),  # a global is per pod
        (
            visit_of_anyone,
            "redis",
            "visit 3 was Meena's visit number 1; pod-3 answered 3: it counted visits",
        ),  # one count for everyone
    ],
)
def test_a_counter_kept_per_pod_or_for_everyone_is_named(capsys, answer, where, broke):
    passed, out = verdict(capsys, fl.checks.visit_counter, answer, state=where)
    assert not passed and out.startswith("❌ Exercise 1.3")
    assert "BROKE  each answer counts every earlier visit" in out and broke in out


def test_the_same_wrong_counter_gets_the_same_verdict_every_time(capsys):
    first = verdict(capsys, fl.checks.visit_counter, visit, state="memory")
    assert verdict(capsys, fl.checks.visit_counter, visit, state="memory") == first


def test_an_unwritten_counter_or_store_gives_no_verdict(capsys):
    for args in [(stub, "redis"), (visit, None)]:
        passed, out = verdict(capsys, fl.checks.visit_counter, args[0], state=args[1])
        assert passed is False and "Not answered yet" in out and "✅" not in out and "❌" not in out


def test_a_store_that_does_not_exist_is_a_clear_error():
    with pytest.raises(fl.BadInput, match="'memory' or 'redis'"):
        fl.checks.visit_counter(visit, state="postgres")


def test_a_handler_without_state_is_named_not_a_crash(capsys):
    passed, out = verdict(capsys, fl.checks.visit_counter, lambda: 1, state="redis")
    assert not passed and "BROKE  visit can run as an endpoint" in out


def test_a_handler_that_raises_is_reported_with_its_error(capsys):
    def broken(state, user: str):
        return 1 / 0

    passed, out = verdict(capsys, fl.checks.visit_counter, broken, state="redis")
    assert not passed and "BROKE  every visit got an answer" in out and "ZeroDivisionError" in out


# ---------------------------------------------------------------- lesson 03: sessions


def test_sessions_in_redis_survive_the_kill(capsys):
    passed, out = verdict(capsys, fl.checks.sessions_survive, login, whoami, state="redis")
    assert passed and out.startswith("✅ Exercise 3.3") and "BROKE" not in out
    assert "was killed, every whoami still answers" in out


def test_sessions_in_pod_memory_are_lost_with_their_pod(capsys):
    passed, out = verdict(capsys, fl.checks.sessions_survive, login, whoami, state="memory")
    assert not passed and out.startswith("❌ Exercise 3.3")
    assert "BROKE  every pod knows every session" in out and "did not know" in out
    assert "BROKE  after pod-" in out and "of 8 lost" in out


def test_a_session_anyone_can_guess_is_named(capsys):
    passed, out = verdict(capsys, fl.checks.sessions_survive, login_by_name, whoami_by_name, state="redis")
    assert (
        not passed and "BROKE  a session nobody was given is refused (whoami('Ravi') answered 'Ravi')" in out
    )


def test_unwritten_sessions_give_no_verdict(capsys):
    passed, out = verdict(capsys, fl.checks.sessions_survive, login, stub, state="redis")
    assert passed is False and "Not answered yet" in out and "❌" not in out


# ---------------------------------------------------------------- lesson 04: the SMS worker


def test_send_then_ack_loses_nothing_and_names_the_duplicate(capsys):
    passed, out = verdict(capsys, fl.checks.sms_worker, send_then_ack)
    assert passed and out.startswith("✅ Exercise 4.3") and "BROKE" not in out
    assert "sms-2 2 times" in out  # the crashed step's message, sent again by a survivor


def test_ack_then_send_loses_the_message_the_crash_held(capsys):
    passed, out = verdict(capsys, fl.checks.sms_worker, ack_then_send)
    assert not passed and out.startswith("❌ Exercise 4.3")
    assert "BROKE  every one of the 6 SMS reached the gateway" in out
    assert "sms-2 never sent" in out and "acknowledged it first" in out


def test_a_worker_that_never_acks_leaves_the_queue_pending(capsys):
    passed, out = verdict(capsys, fl.checks.sms_worker, send_never_ack)
    assert not passed and "BROKE  in the end every SMS was acknowledged" in out


def test_an_unwritten_worker_gives_no_verdict(capsys):
    passed, out = verdict(capsys, fl.checks.sms_worker, stub)
    assert passed is False and "Not answered yet" in out and "❌" not in out


# ---------------------------------------------------------------- lesson 02: signed tokens

SECRET = b"finpay-shared-secret"  # travels with the functions: every pod has the same one


def issue_token(state, user: str):
    return f"{user}.{hmac.new(SECRET, user.encode(), hashlib.sha256).hexdigest()}"


def check_token(state, token: str):
    user, _, signature = token.rpartition(".")
    if not user or not hmac.compare_digest(
        signature, hmac.new(SECRET, user.encode(), hashlib.sha256).hexdigest()
    ):
        raise fl.Rejected("invalid token")
    return user


def issue_remembered(state, user: str):
    token = secrets.token_hex(8)
    state.set(f"token:{token}", user)
    return token


def check_remembered(state, token: str):
    return state.get(f"token:{token}")


def _own_secret(state):
    if state.get("secret") is None:
        state.set("secret", secrets.token_hex(16))  # each pod makes its own: that is state too
    return state.get("secret").encode()


def issue_with_own_secret(state, user: str):
    return f"{user}.{hmac.new(_own_secret(state), user.encode(), hashlib.sha256).hexdigest()}"


def check_with_own_secret(state, token: str):
    user, _, signature = token.rpartition(".")
    if signature != hmac.new(_own_secret(state), user.encode(), hashlib.sha256).hexdigest():
        raise fl.Rejected("invalid token")
    return user


def issue_unsigned(state, user: str):
    return f"{user}.ok"


def check_unsigned(state, token: str):
    return token.split(".")[0]


def test_a_token_signed_with_a_shared_secret_works_on_every_pod(capsys):
    passed, out = verdict(capsys, fl.checks.signed_tokens, issue_token, check_token)
    assert passed and out.startswith("✅ Exercise 2.3") and "BROKE" not in out


@pytest.mark.parametrize(
    ("issue", "check", "broke"),
    [
        (
            issue_remembered,
            check_remembered,
            "BROKE  every pod accepts every token, whichever pod issued it (pod-2 refused",
        ),
        (issue_with_own_secret, check_with_own_secret, "BROKE  every pod accepts every token"),
        (
            issue_unsigned,
            check_unsigned,
            "BROKE  every pod refuses a forged token (pod-2 accepted Ravi's token with Meena's name",
        ),
    ],
)
def test_a_remembered_or_unsigned_token_is_named(capsys, issue, check, broke):
    passed, out = verdict(capsys, fl.checks.signed_tokens, issue, check)
    assert not passed and out.startswith("❌ Exercise 2.3") and broke in out


def test_unwritten_tokens_give_no_verdict(capsys):
    passed, out = verdict(capsys, fl.checks.signed_tokens, stub, check_token)
    assert passed is False and "Not answered yet" in out and "❌" not in out
