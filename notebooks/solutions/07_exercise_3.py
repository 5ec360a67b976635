# Exercise 7.3: a solution (lesson 07_externalize_state).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
answer = {
    "Payment API": DATABASE,  # money must survive anything: ACID transactions
    "Balance Check": REDIS_AND_DATABASE,  # read constantly: cache in Redis, truth in the database
    "Session Management": REDIS,  # every pod must see it; cheap to lose (log in again); expires
    "Transaction History": DATABASE,  # permanent, queried by customer and date
    "Fraud Detection": REDIS_AND_DATABASE,  # rules and recent activity in Redis, history in the database
    "Notification Queue": KAFKA,  # every alert delivered, even when workers crash
    "Database": PERSISTENT_VOLUMES,  # the store itself: a StatefulSet, a PersistentVolumeClaim per replica
}

fl.checks.check(answer, COURSE_MATRIX, name="Exercise 7.3",
                hint=f"Look again at: {', '.join(to_review)}.",
                explain="Every service is stateless and scales sideways; only the stores keep state.");
