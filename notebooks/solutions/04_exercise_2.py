# Exercise 4.2: a solution (lesson 04_notification_queue).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
# It replays the story on a lab of its own (pod-2 already gone, as in the lesson), so it
# gives the same answer however often you run it and leaves the lesson's `lab` alone.
with fl.Lab(pods=3, state="redis", sms_seconds=0.4) as dinner_lab:
    dinner_lab.kill("pod-2")
    token = dinner_lab.call("login", user="Ravi").value["token"]
    dinner = dinner_lab.call("pay", sender="Ravi", receiver="Meena", amount=1200, token=token, pod="pod-3")
    dinner_lab.kill("pod-3")
    print("still running:", [pod.name for pod in dinner_lab.pods if pod.status != "dead"])

    dinner_audit = dinner_lab.audit()
    answer = sum("₹1,200" in text for _, text in dinner_audit.notifications.lost)
    print([(s["to"], s["text"], "sent by " + s["pod"]) for s in dinner_lab.sms() if "₹1,200" in s["text"]])

fl.checks.check(answer, 0, name="Exercise 4.2",
                hint="Where do the dinner alerts wait, and is anyone left to read from there?",
                explain="They wait in Redis, not in pod-3; pod-1's worker reclaims whatever pod-3 had taken.");
