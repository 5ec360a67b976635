# Exercise 5.2: a solution (lesson 05_salary_day).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
per_pod = runs[1].throughput
answer = math.ceil(surge.peak_rate() / per_pod)
print(f"{surge.peak_rate():,.0f} requests/s at the peak / {per_pod:,.0f} per pod → {answer} pods")

fl.checks.check(answer, lambda pods: 8 <= pods <= 10, name="Exercise 5.2",
                hint="Divide the peak rate by what one pod serves, and round up: a pod can't be split.",
                explain="1,500 / ~190 per pod ≈ 7.9, so 8 pods; in production you would add headroom on top.");
