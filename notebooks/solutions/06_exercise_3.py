# Exercise 6.3: a solution (lesson 06_databases_and_caches).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
def transfer(state, db, sender: str, receiver: str, amount: int):
    # Both UPDATEs run in the request's transaction: committed together when the handler
    # returns, or rolled back together by the database when the pod dies in between.
    if not db.execute("UPDATE accounts SET balance = balance - :amount WHERE name = :user",
                      amount=amount, user=sender):
        raise fl.Rejected(f"unknown customer {sender!r}")
    fl.crash_point("after_debit")
    if not db.execute("UPDATE accounts SET balance = balance + :amount WHERE name = :user",
                      amount=amount, user=receiver):
        raise fl.Rejected(f"unknown customer {receiver!r}")  # raising rolls back the debit too


fl.checks.crash_safe_transfer(transfer);
