# Exercise 4.1: a solution (lesson 04_notification_queue).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
with fl.Lab(pods=3, state="memory", sms_seconds=0.3, restart=True) as k8s:
    for i in range(1, 6):
        k8s.call("notify", user=f"cust-{i:03d}", message="Salary credited to your FinPay wallet", pod="pod-2")
    token = k8s.call("login", user="Ravi").value["token"]
    k8s.call("pay", sender="Ravi", receiver="Landlord", amount=5000, token=token, pod="pod-2")
    k8s.kill("pod-2")

    time.sleep(0.5)  # the replacement starts after a short backoff
    print("Ravi's balance, says the new pod-2:", k8s.call("balance", user="Ravi", pod="pod-2").value)
    print("what the new pod-2 holds:", k8s.pod_stats("pod-2"))
    print([(pod.name, pod.status, pod.restarts) for pod in k8s.pods])

    k8s.audit()  # gives the survivors time to send what they hold
    answer = sum("₹5,000" in sms["text"] for sms in k8s.sms())

fl.checks.check(answer, 0, name="Exercise 4.1",
                hint="A restarted pod is a new process. What is in its memory when it starts?",
                explain="The new pod-2 starts with an empty queue: the alerts died with the old process.");
