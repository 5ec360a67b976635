# Exercise 1.3: a solution (lesson 01_stateless_vs_stateful).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
# The count lives in Redis, which every pod shares, under a key per customer. state.incr
# adds 1 and returns the new value in one atomic step, so two pods counting at the same
# moment never lose a visit. (With where = "memory" the same code keeps one count per pod.)
where = "redis"


def visit(state, user: str):
    return state.incr(f"visits:{user}")


fl.checks.visit_counter(visit, state=where);
