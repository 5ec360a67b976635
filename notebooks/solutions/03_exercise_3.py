# Exercise 3.3: a solution (lesson 03_sessions_and_crashes).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
# Sessions live in Redis, which every pod shares and which outlives any pod, under a random
# id nobody can guess; an id Redis doesn't know is refused.
import secrets

where = "redis"


def login(state, user: str):
    session = secrets.token_hex(16)
    state.set(f"session:{session}", user, ttl=3600)  # an hour, then Ravi logs in again
    return session


def whoami(state, session: str):
    user = state.get(f"session:{session}")
    if user is None:
        raise fl.Rejected("unknown session, please log in again")
    return user


fl.checks.sessions_survive(login, whoami, state=where);
