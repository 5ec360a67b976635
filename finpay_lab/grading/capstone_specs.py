"""What a capstone service must offer: its endpoints and the promises the harness checks.

A spec is a brief for the learner (printed by ``fl.checks.capstone_brief(name)``) and, for
the harness, the list of endpoints it will call and the cast and amounts it will send.
The harness checks the promises from the outside, by what the service answers: it never
reads the learner's code, so any design that keeps the promises passes.

One spec so far, ``"receipts"``; a new one is a ``Spec`` here and its promises in
``capstone_checks.py``.
"""

from dataclasses import dataclass

RECEIPTS_BRIEF = """\
FinPay Receipts: every payment gets a receipt and a "Payment Sent" SMS.

A customer's wallet opens with ₹10,000 the first time the service sees them. Build an
fl.App with these five endpoints (each handler takes the pod's `state` first, and `db`
too if it uses the lab's SQL database):

  pay(user: str, amount: int, key: str)
      Charge `user` `amount` rupees, keep the payment's receipt under `key` and queue
      its SMS. Answer the receipt: a dict with at least "key", "user" and "amount".
      - The same key again (a client's retry) charges nothing more and answers the
        same receipt.
      - More than the balance is refused (raise fl.Rejected) and changes nothing.
  receipt(key: str)
      The receipt of payment `key`, or None if there is none.
      - A receipt once answered is there for good, on every pod.
  balance(user: str)
      The customer's balance in ₹.
      - ₹10,000 minus the customer's payments, on every pod.
  next_sms(worker: str)
      The next receipt SMS to send, a dict with at least "id" and "key" (the payment's
      key), or None when there is nothing to send. A worker (the harness) sends it,
      then confirms with sms_sent.
  sms_sent(sms_id)
      `sms_id` (the "id" next_sms gave) has been sent: don't hand it out again.
      - Every payment's SMS is sent at least once (a repeat is counted, not failed).

The harness runs your app on 3 pods and puts it through, in this order: payments,
clients retrying payments on another pod, the chaos monkey killing a pod, a Redis crash
(when the lab has a Redis), a rolling update, salary day (3 → 30 pods), and an
overdraft. After each step it reads every receipt and every balance back. A customer
pays one payment at a time (never two at once), so pay needs no lock."""


@dataclass(frozen=True)
class Spec:
    """A capstone brief: what it is called, its text, the endpoints it needs (name ->
    the parameters the harness sends), and the cast the harness pays for."""

    name: str
    brief: str
    endpoints: dict
    customers: tuple
    opening: int  # ₹ each customer starts with
    amounts: tuple  # the ₹ amounts a payment is drawn from (seeded)


RECEIPTS = Spec(
    name="receipts",
    brief=RECEIPTS_BRIEF,
    endpoints={
        "pay": ("user", "amount", "key"),
        "receipt": ("key",),
        "balance": ("user",),
        "next_sms": ("worker",),
        "sms_sent": ("sms_id",),
    },
    customers=("Ravi", "Meena", "Anil", "Kiran", "Priya", "Arjun"),
    opening=10_000,
    amounts=tuple(range(50, 451, 50)),
)

SPECS = {spec.name: spec for spec in (RECEIPTS,)}
