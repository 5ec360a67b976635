# Exercise 3.1: a solution (lesson 03_sessions_and_crashes).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
answer = set(crash_and_audit("memory", pods=4, victim="pod-4").lost_sessions)

fl.checks.check(answer, {"Meena", "Anil"}, name="Exercise 3.1",
                hint="Call crash_and_audit('memory', pods=4, victim='pod-4') and read lost_sessions.",
                explain="Exactly the customers the sticky balancer had placed on pod-4.");
