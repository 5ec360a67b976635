# Exercise 9.2: a solution (lesson 09_capstone).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
#
# Every promise is about money or a record of it, so everything lives in the database,
# in one table: a payment, its receipt and its SMS are one row, written in one
# transaction. No crash can keep the money and lose the receipt, or keep the receipt and
# lose the SMS (a "transactional outbox"). The pods keep nothing: kill them, replace
# them, run 30 of them. Redis holds nothing here, so its crash costs nothing either.
receipts = fl.App("receipts")
OPENING = 10_000  # ₹ in every new wallet


def open_books(lab):  # run once by the lab, when its database is up
    lab.sql(
        "CREATE TABLE IF NOT EXISTS payments ("
        " key TEXT PRIMARY KEY,"  # the client's idempotency key: one row per payment
        " customer TEXT NOT NULL,"
        " amount INTEGER NOT NULL CHECK (amount > 0),"
        " sms_sent INTEGER NOT NULL DEFAULT 0)"
    )  # the outbox: 0 until the SMS went out


receipts.on_lab_start.append(open_books)


def spent(db, user):
    rows = db.query(
        "SELECT COALESCE(SUM(amount), 0) AS spent FROM payments WHERE customer = :user", user=user
    )
    return rows[0]["spent"]


def as_receipt(row):
    return {"key": row["key"], "user": row["customer"], "amount": row["amount"]}


@receipts.endpoint
def pay(state, db, user: str, amount: int, key: str):
    done = db.query("SELECT * FROM payments WHERE key = :key", key=key)
    if done:  # a retry: the same receipt, nothing charged
        return as_receipt(done[0])
    if amount <= 0 or amount > OPENING - spent(db, user):
        raise fl.Rejected(f"insufficient funds: {user} has ₹{OPENING - spent(db, user):,}")
    db.execute(
        "INSERT INTO payments (key, customer, amount) VALUES (:key, :user, :amount)",
        key=key,
        user=user,
        amount=amount,
    )
    return {"key": key, "user": user, "amount": amount}


@receipts.endpoint
def receipt(state, db, key: str):
    rows = db.query("SELECT * FROM payments WHERE key = :key", key=key)
    return as_receipt(rows[0]) if rows else None


@receipts.endpoint
def balance(state, db, user: str):
    return OPENING - spent(db, user)


@receipts.endpoint
def next_sms(state, db, worker: str):
    rows = db.query("SELECT * FROM payments WHERE sms_sent = 0 ORDER BY key LIMIT 1")
    if not rows:
        return None
    row = rows[0]
    return {
        "id": row["key"],
        "key": row["key"],
        "text": f"FinPay: you paid ₹{row['amount']:,} ({row['key']})",
    }


@receipts.endpoint
def sms_sent(state, db, sms_id: str):
    db.execute("UPDATE payments SET sms_sent = 1 WHERE key = :key", key=sms_id)


graded = fl.checks.capstone(receipts, "receipts", state="redis", db="sqlite")
