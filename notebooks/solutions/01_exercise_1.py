# Exercise 1.1: a solution (lesson 01_stateless_vs_stateful).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
with fl.Lab(pods=3, state="memory") as fresh:  # a fresh lab, so earlier experiments don't matter
    fresh.call("update_balance", amount=500)  # pod-1
    fresh.call("update_balance", amount=300)  # pod-2
    answer = fresh.call("update_balance", amount=200).value  # pod-3

fl.checks.check(answer, 1200, name="Exercise 1.1",
                hint="Round robin's third pick is pod-3. What had pod-3 seen before this deposit?",
                explain="pod-3 had seen nothing, so it starts from its own 1000: 1000 + 200.");
