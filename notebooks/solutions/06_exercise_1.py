# Exercise 6.1: a solution (lesson 06_databases_and_caches).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
from finpay_lab import defaults

answer = defaults.BALANCE_CACHE_TTL  # Redis deletes the cached balance this long after it was cached
print(answer, "seconds")

fl.checks.check(answer, 30, name="Exercise 6.1",
                hint="What did cache-aside do besides keeping the value in Redis? Look at defaults.BALANCE_CACHE_TTL.",
                explain="The TTL: Redis deletes the key 30 s after it was cached. A TTL bounds how stale a cache can be; "
                        "invalidation after the commit makes it right at once.");
