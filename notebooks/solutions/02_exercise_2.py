# Exercise 2.2: a solution (lesson 02_pods_and_load_balancing).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
with fl.Lab(pods=6, app=slow_app, balancer="round_robin") as six:
    answer = round(six.run(requests).duration, 2)

fl.checks.check(answer, 0.5, tolerance=0.3, name="Exercise 2.2",
                hint="With 6 pods, pod-1 gets 150 / 6 requests, one after another, at 20 ms each.",
                explain="25 requests × 20 ms = 0.5 s: the slow pod still sets the pace, but its share shrank.");
