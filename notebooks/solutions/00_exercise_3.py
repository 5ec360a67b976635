# Exercise 0.3: a solution (lesson 00_welcome).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
# amount // 100 is 1% rounded down (// divides and drops the fraction: 199 // 100 is 1);
# max(1, ...) keeps the smallest fee at ₹1. The function uses nothing but its amount, so
# every pod answers the same, and killing one takes nothing with it.


def fee(state, amount: int):
    return max(1, amount // 100)


fl.checks.first_endpoint(fee);
