# Exercise 7.2: a solution (lesson 07_externalize_state).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
# The key goes into the payments table in the same transaction that moves the money: a
# crash after the commit leaves the record behind, and the retry on any pod finds it. A
# crash before the commit rolls back both, and the retry pays for the first time.


def pay(state, db, sender: str, receiver: str, amount: int, key: str):
    done = db.query("SELECT sender, receiver, amount FROM payments WHERE key = :key", key=key)
    if done:  # paid already: answer the first payment again, move nothing
        return dict(done[0], key=key, repeated=True)
    db.execute("INSERT INTO payments (key, sender, receiver, amount) VALUES (:key, :sender, :receiver, :amount)",
               key=key, sender=sender, receiver=receiver, amount=amount)
    if not db.execute("UPDATE accounts SET balance = balance - :amount WHERE name = :user AND balance >= :amount",
                      amount=amount, user=sender):
        raise fl.Rejected(f"{sender} can't pay ₹{amount:,}")  # raising rolls back the INSERT too
    db.execute("UPDATE accounts SET balance = balance + :amount WHERE name = :user", amount=amount, user=receiver)
    return {"key": key, "sender": sender, "receiver": receiver, "amount": amount, "repeated": False}


fl.checks.idempotent_pay(pay);
