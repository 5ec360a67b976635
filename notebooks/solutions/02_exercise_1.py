# Exercise 2.1: a solution (lesson 02_pods_and_load_balancing).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
with fl.Lab(pods=4) as four:
    answer = [four.call("add_balance", user="Ravi", amount=1).pod for _ in range(10)][-1]

fl.checks.check(answer, "pod-2", name="Exercise 2.1",
                hint="Requests 1-4 go to pod-1..pod-4, 5-8 go round again. Where does 10 land?",
                explain="10 = 4 + 4 + 2: two full rounds, then the second pod.");
