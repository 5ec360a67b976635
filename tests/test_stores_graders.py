"""The graders of lesson 06 (finpay_lab/grading/stores.py), each given a right answer (✅)
and a wrong one (❌, naming what broke), on real pods: the cache-aside read, the transfer
a crash cannot split, the debit two racing pods cannot spoil."""

import redis

import finpay_lab as fl


# ---------------------------------------------------------------- 6.2 cache-aside
def right_balance(state, user: str, db=None):
    key = f"cache:balance:{user}"
    try:
        cached = state.get(key)
    except redis.exceptions.ConnectionError:
        cached = None
    if cached is not None:
        return cached
    value = db.query("SELECT balance FROM accounts WHERE name = :user", user=user)[0]["balance"]
    try:
        state.set(key, value, ttl=30)
    except redis.exceptions.ConnectionError:
        pass
    return value


def balance_under_its_own_key(state, user: str, db=None):
    """Caches under a key FinPay's pay never deletes: stale after a payment."""
    key = f"my-cache:{user}"
    try:
        cached = state.get(key)
    except redis.exceptions.ConnectionError:
        cached = None
    if cached is not None:
        return cached
    value = db.query("SELECT balance FROM accounts WHERE name = :user", user=user)[0]["balance"]
    try:
        state.set(key, value, ttl=30)
    except redis.exceptions.ConnectionError:
        pass
    return value


def balance_that_needs_redis(state, user: str, db=None):
    """Right until Redis goes down: the cache's error becomes the customer's."""
    key = f"cache:balance:{user}"
    cached = state.get(key)
    if cached is not None:
        return cached
    value = db.query("SELECT balance FROM accounts WHERE name = :user", user=user)[0]["balance"]
    state.set(key, value, ttl=30)
    return value


def test_cache_aside_passes_a_right_answer(capsys):
    assert fl.checks.cache_aside(right_balance) is True
    out = capsys.readouterr().out
    assert "✅ Exercise 6.2" in out and "BROKE" not in out


def test_cache_aside_finds_the_stale_reads_of_a_cache_nobody_invalidates(capsys):
    assert fl.checks.cache_aside(balance_under_its_own_key) is False
    out = capsys.readouterr().out
    assert "❌ Exercise 6.2" in out
    assert "BROKE  it keeps what it read in the cache (cache:balance:Ravi)" in out
    assert (
        "BROKE  after Ravi pays ₹12,000, every read says ₹8,000 (no stale read) (the audit counted 3 stale"
        in out
    )
    assert "held   with Redis down, the read falls back to the database" in out


def test_cache_aside_finds_a_read_that_fails_with_the_cache(capsys):
    assert fl.checks.cache_aside(balance_that_needs_redis) is False
    out = capsys.readouterr().out
    assert "held   after Ravi pays" in out
    assert "BROKE  with Redis down, the read falls back to the database (error: " in out


def test_an_unwritten_answer_is_not_graded(capsys):
    def balance(state, user: str, db=None): ...

    def transfer(state, db, sender: str, receiver: str, amount: int):
        """Write me."""

    assert fl.checks.cache_aside(balance) is False
    assert fl.checks.crash_safe_transfer(transfer) is False
    assert fl.checks.race_free_debit(None) is False
    out = capsys.readouterr().out
    assert out.count("Not answered yet") == 3 and "✅" not in out and "❌" not in out


# ---------------------------------------------------------------- 6.3 a transfer and a crash
def sql_transfer(state, db, sender: str, receiver: str, amount: int):
    db.execute(
        "UPDATE accounts SET balance = balance - :amount WHERE name = :user", amount=amount, user=sender
    )
    fl.crash_point("after_debit")
    db.execute(
        "UPDATE accounts SET balance = balance + :amount WHERE name = :user", amount=amount, user=receiver
    )


def two_step_redis_transfer(state, db, sender: str, receiver: str, amount: int):
    state.incr(f"balance:{sender}", -amount)
    fl.crash_point("after_debit")
    state.incr(f"balance:{receiver}", amount)


def transfer_without_the_point(state, db, sender: str, receiver: str, amount: int):
    db.execute(
        "UPDATE accounts SET balance = balance - :amount WHERE name = :user", amount=amount, user=sender
    )
    db.execute(
        "UPDATE accounts SET balance = balance + :amount WHERE name = :user", amount=amount, user=receiver
    )


def test_crash_safe_transfer_passes_the_sql_transaction(capsys):
    assert fl.checks.crash_safe_transfer(sql_transfer) is True
    assert "✅ Exercise 6.3" in capsys.readouterr().out


def test_crash_safe_transfer_finds_the_money_a_two_step_redis_transfer_loses(capsys):
    assert fl.checks.crash_safe_transfer(two_step_redis_transfer) is False
    out = capsys.readouterr().out
    assert "❌ Exercise 6.3" in out and "held   the pod was killed at after_debit" in out
    assert "BROKE  the crash created or destroyed ₹0 (₹-12,000:" in out
    assert "BROKE  sent again, the rent moved ₹12,000 exactly once" in out


def test_crash_safe_transfer_needs_the_crash_point(capsys):
    assert fl.checks.crash_safe_transfer(transfer_without_the_point) is False
    out = capsys.readouterr().out
    assert "BROKE  the pod was killed at after_debit" in out and "never reached" in out


# ---------------------------------------------------------------- 6.4 the lost update
def atomic_withdraw(state, db, user: str, amount: int):
    fl.pause_point("after_read")
    if not db.execute(
        "UPDATE accounts SET balance = balance - :amount WHERE name = :user AND balance >= :amount",
        amount=amount,
        user=user,
    ):
        raise fl.Rejected("insufficient funds")
    return db.query("SELECT balance FROM accounts WHERE name = :user", user=user)[0]["balance"]


def read_modify_write_in_redis(state, db, user: str, amount: int):
    balance = state.get(f"balance:{user}")
    fl.pause_point("after_read")
    state.set(f"balance:{user}", balance - amount)
    return balance - amount


def withdraw_without_the_point(state, db, user: str, amount: int):
    balance = state.get(f"balance:{user}")
    state.set(f"balance:{user}", balance - amount)
    return balance - amount


def test_race_free_debit_passes_the_atomic_update(capsys):
    assert fl.checks.race_free_debit(atomic_withdraw) is True
    assert "✅ Exercise 6.4" in capsys.readouterr().out


def test_race_free_debit_finds_the_lost_update_of_a_read_modify_write(capsys):
    assert fl.checks.race_free_debit(read_modify_write_in_redis) is False
    out = capsys.readouterr().out
    assert "❌ Exercise 6.4" in out and "held   two pods were held at after_read" in out
    assert (
        "BROKE  ₹800 is left of ₹1,000 after two ₹100 withdrawals (no update lost) (SQL holds ₹1,000, "
        "Redis holds ₹900)" in out
    )


def test_race_free_debit_needs_the_race_to_happen(capsys):
    assert fl.checks.race_free_debit(withdraw_without_the_point) is False
    out = capsys.readouterr().out
    assert "BROKE  two pods were held at after_read at the same moment" in out and "0 of 2" in out
