# Exercise 1.2: a solution (lesson 01_stateless_vs_stateful).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
sixth = {}
for kind in ["memory", "redis"]:
    with fl.Lab(pods=3, state=kind) as fresh:
        replies = [fresh.call("update_balance", amount=100) for _ in range(6)]
        sixth[kind] = replies[-1].value
answer = (sixth["memory"], sixth["redis"])

fl.checks.check(answer, (1200, 1600), name="Exercise 1.2",
                hint="With memory, each pod sees only every third deposit; with Redis, every pod adds to one shared balance.",
                explain="With memory the sixth deposit lands on pod-3, its second: 1000 + 2 × 100. With Redis all six add up: 1000 + 6 × 100.");
