# Exercise 3.2: a solution (lesson 03_sessions_and_crashes).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
# Only pod-2's customers move: count the customers the 4-pod ring had placed on pod-2.
ring_of_four = fl.HashRing(four)
answer = sum(ring_of_four.node_for(customer) == "pod-2" for customer in customers)

fl.checks.check(answer, 250, tolerance=0.2, name="Exercise 3.2",
                hint="Only customers who lived on pod-2 need a new home. What share of 4 pods is one pod?",
                explain="About a quarter (247 exactly): pod-2's customers move; everyone else stays where they were.");
