# Exercise 0.1: a solution (lesson 00_welcome).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
answer = lab.call("add_balance", user="Meena", amount=3000).value

fl.checks.check(answer, 4000, name="Exercise 0.1",
                hint="Call lab.call('add_balance', user='Meena', amount=3000) and use .value of the reply.",
                explain="add_balance returns amount + 1000, whoever asks and whichever pod answers.");
