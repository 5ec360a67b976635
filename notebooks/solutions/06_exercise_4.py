# Exercise 6.4: a solution (lesson 06_databases_and_caches).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
def withdraw(state, db, user: str, amount: int):
    fl.pause_point("after_read")  # nothing was read: the database reads and writes in one step
    changed = db.execute(
        "UPDATE accounts SET balance = balance - :amount WHERE name = :user AND balance >= :amount",
        amount=amount, user=user)
    if not changed:
        raise fl.Rejected("insufficient funds")
    return db.query("SELECT balance FROM accounts WHERE name = :user", user=user)[0]["balance"]


fl.checks.race_free_debit(withdraw);
