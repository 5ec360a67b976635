# Exercise 9.1: a solution (lesson 09_capstone).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
trial = fl.checks.capstone(first_draft, state="redis", practice=True)  # the same draft, its state in Redis
answer = next(iter(trial.receipts_lost_at))  # the first step at which a receipt went missing

fl.checks.check(answer, "redis crash", name="Exercise 9.1",
                hint="In Redis every pod sees every receipt. Which step of the day hurts Redis itself?",
                explain="Shared state survives the monkey, the rollout and 30 pods; a Redis without "
                        "persistence is still memory, and its crash takes everything at once.");
