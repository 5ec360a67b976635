# Exercise 5.1: a solution (lesson 05_salary_day).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
with fl.Lab(pods=1, app=payment_api) as solo:
    answer = round(solo.run(burst).throughput)
print(answer, "requests/s measured")

fl.checks.check(answer, 200, tolerance=0.3, name="Exercise 5.1",
                hint="How many 5 ms waits fit in one second?",
                explain="1 s / 5 ms = 200 requests/s; measured it is a little less, as the lab adds its own overhead.");
