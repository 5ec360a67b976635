"""Stateless authentication: a signed token any pod can check without looking anything up.

A session id (``login``'s ``session``) means nothing without the state that maps it to a
user: lose that state and the session is gone. A **token** carries its own proof:

    token = "Ravi.1764031200.<signature>"     user, expiry (unix time), HMAC-SHA256

Every pod shares the secret, so any pod, even one started a second ago with empty memory,
can verify it. Change one character and the signature no longer matches.
"""

import base64
import hashlib
import hmac
import time

from ..errors import Rejected

TOKEN_TTL = 15 * 60  # seconds a token stays valid


def _signature(secret: str, payload: str) -> str:
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def sign(user: str, secret: str, ttl: float = TOKEN_TTL, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + ttl)
    payload = f"{user}.{expires}"
    return f"{payload}.{_signature(secret, payload)}"


def verify(token, secret: str, now: float | None = None) -> str:
    """The user the token was issued to; raises Rejected if forged, tampered or expired."""
    if not isinstance(token, str) or token.count(".") < 2:
        raise Rejected("invalid token: log in to get one")
    payload, signature = token.rsplit(".", 1)
    user, expires = payload.rsplit(".", 1)
    if not hmac.compare_digest(signature, _signature(secret, payload)):
        raise Rejected("invalid token: the signature does not match (forged or tampered)")
    if not expires.isdigit() or int(expires) < (time.time() if now is None else now):
        raise Rejected("expired token: log in again")
    return user
