# Exercise 5.4: a solution (lesson 05_salary_day).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
answer = {state: audit.ok for state, (run, audit) in results.items()}
print(answer)

fl.checks.check(answer, {"memory": False, "redis": True}, name="Exercise 5.4",
                hint="In memory mode, how many sets of books are there, and which one died with pod-2?",
                explain="Memory: four pods, four sets of books, one of them lost in the crash. Redis: one set, outside every pod.");
