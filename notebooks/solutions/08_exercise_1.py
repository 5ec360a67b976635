# Exercise 8.1: a solution (lesson 08_deploys_and_statefulsets).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
with fl.Lab(pods=3, restart=True) as trial:
    trial.kill("pod-2")  # a crash: the kubelet restarts the container in place
    trial.wait_ready()
    trial.remove("pod-3")  # a deletion: gone for good
    trial.scale(3)  # the ReplicaSet makes a new pod to replace it
    answer = [p.name for p in trial.pods]
    print([(p.name, p.restarts) for p in trial.pods])

fl.checks.check(answer, ["pod-1", "pod-2", "pod-4"], name="Exercise 8.1",
                hint="A crashed container comes back under its own name; a deleted pod is replaced by a new one.",
                explain="pod-2 was restarted in place (restarts=1); pod-3 was replaced by pod-4, a new name.");
