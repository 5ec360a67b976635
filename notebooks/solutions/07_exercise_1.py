# Exercise 7.1: a solution (lesson 07_externalize_state).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
with fl.Lab(pods=3, state="redis", accounts={"Ravi": 20000, "Landlord": 0}) as trial:
    token = trial.call("login", user="Ravi").value["token"]
    rent = dict(sender="Ravi", receiver="Landlord", amount=5000, token=token)  # no key

    trial.call("pay", pod="pod-2", **rent)
    trial.kill("pod-2")
    retry = trial.call("pay", **rent)
    answer = trial.call("balance", user="Ravi").value

fl.checks.check(answer, 10000, name="Exercise 7.1",
                hint="Without a key, how could the survivor tell a retry from a second payment?",
                explain="Charged twice: 20,000 − 2 × 5,000. Shared state alone doesn't make retries safe; the key does.");
