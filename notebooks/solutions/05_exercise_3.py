# Exercise 5.3: a solution (lesson 05_salary_day).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
import math

MIN_PODS, MAX_PODS = 3, 30


def desired(current, utilizations, target):
    mean = sum(utilizations) // len(utilizations)  # a whole percent, rounded down
    ratio = mean / target
    if 0.9 <= ratio <= 1.1:  # within the tolerance: no change
        return current
    wanted = math.ceil(current * ratio)
    wanted = min(wanted, max(current + 4, 2 * current))  # at most +4 pods or +100% a period
    return max(MIN_PODS, min(MAX_PODS, wanted))


fl.checks.hpa_desired(desired);
