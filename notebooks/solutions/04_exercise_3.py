# Exercise 4.3: a solution (lesson 04_notification_queue).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
# Send first, acknowledge after: a crash between the two leaves the SMS pending, and a
# survivor sends it again (a duplicate, never a loss: at least once). The other order
# tells Redis "done" before the gateway has it, and a crash there loses it.


def deliver_next(queue, send):
    entry = queue.take()
    if entry is None:  # nothing to send
        return
    item_id, sms = entry
    send(sms)
    queue.ack(item_id)  # only now may Redis forget it


fl.checks.sms_worker(deliver_next);
