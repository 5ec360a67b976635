# Exercise 2.3: a solution (lesson 02_pods_and_load_balancing).
# Loaded only when you ask for it; it runs in the lesson's kernel and uses its variables.
# The token is the user's name and an HMAC of it with a secret every pod shares: any pod
# can recompute the signature, nobody without the secret can make one, and nothing is
# stored anywhere. (FinPay's own tokens add an expiry time: finpay_lab/services/auth.py.)
import hashlib
import hmac

SECRET = b"finpay-demo-secret"  # the same on every pod


def _signature(user):
    return hmac.new(SECRET, user.encode(), hashlib.sha256).hexdigest()


def issue_token(state, user: str):
    return f"{user}.{_signature(user)}"


def check_token(state, token: str):
    user, _, signature = token.rpartition(".")
    if not user or not hmac.compare_digest(signature, _signature(user)):
        raise fl.Rejected("invalid token: the signature does not match")
    return user


fl.checks.signed_tokens(issue_token, check_token);
