# Exercise 0.2: a solution (lesson 00_welcome).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
with fl.Lab(pods=3) as practice:
    practice.kill("pod-2")
    answer = sum(pod.status == "ready" for pod in practice.pods)

fl.checks.check(answer, 2, name="Exercise 0.2",
                hint="Count the pods whose status is 'ready' in practice.pods after the kill.",
                explain="pod-2 is now 'dead'; nothing restarts it unless you ask for restart=True (lesson 03).");
