# Exercise 8.3: a solution (lesson 08_deploys_and_statefulsets).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
def deposit(state, key: str, amount: int):
    state.set(f"deposit:{key}", amount)
    if state.redis.wait(1, 500) < 1:  # no replica has it yet: the primary alone could lose it
        raise fl.Rejected("not on a replica yet: not confirmed, try again")
    return "confirmed"


fl.checks.deposit_survives_failover(deposit);
