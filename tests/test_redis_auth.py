"""The AUTH gate in front of the embedded Redis (``stores/redis_auth.py``), byte by byte.

No server and no socket: the gate reads what a client sent (``feed``), writes its own
answers to ``out`` and returns what may pass on to fakeredis. End to end, through a real
embedded server, ``test_money_and_security.py`` checks the same door.
"""

import io

import pytest

from finpay_lab.stores.redis_auth import AuthGate, parse_command

PASSWORD = "s3cret-Pa55"
NOAUTH = b"-NOAUTH Authentication required.\r\n"
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"


def resp(*args):
    """A command as redis-py sends it: a RESP array of bulk strings."""
    args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def gate():
    out = io.BytesIO()
    return AuthGate(PASSWORD, out), out


def test_nothing_passes_before_auth():
    g, out = gate()
    assert g.feed(resp("SET", "balance:Ravi", "999999") + resp("FLUSHALL")) == b""
    assert out.getvalue() == NOAUTH * 2 and not g.open


def test_a_wrong_password_or_user_stays_outside():
    g, out = gate()
    assert g.feed(resp("AUTH", "guess") + resp("AUTH", "admin", PASSWORD) + resp("GET", "k")) == b""
    assert out.getvalue() == WRONGPASS * 2 + NOAUTH and not g.open


def test_auth_opens_the_door_and_what_follows_passes_untouched():
    g, out = gate()
    after = resp("GET", "balance:Ravi") + b"*1\r\n$4\r\nPI"  # pipelined; the last one still arriving
    assert g.feed(resp("AUTH", PASSWORD) + after) == after
    assert out.getvalue() == b"+OK\r\n" and g.open
    assert g.feed(b"NG\r\n") == b"NG\r\n"  # from now on, bytes are the server's business


def test_auth_with_the_default_user_and_inline_auth():
    g, out = gate()
    assert g.feed(resp("AUTH", "default", PASSWORD)) == b"" and g.open
    g, out = gate()
    assert g.feed(f"AUTH {PASSWORD}\r\nPING\r\n".encode()) == b"PING\r\n"  # redis-cli's inline form
    assert out.getvalue() == b"+OK\r\n"


def test_auth_with_the_wrong_number_of_arguments_is_an_error():
    g, out = gate()
    g.feed(resp("AUTH") + resp("AUTH", "a", "b", "c"))
    assert out.getvalue() == b"-ERR wrong number of arguments for 'auth' command\r\n" * 2 and not g.open


def test_hello_with_auth_logs_in_and_the_server_answers_the_hello():
    """redis-py with protocol 3 sends HELLO 3 AUTH default <password>: the gate checks the
    password and hands the server the HELLO without it."""
    g, out = gate()
    passed = g.feed(resp("HELLO", "3", "AUTH", "default", PASSWORD, "SETNAME", "pod-1"))
    assert passed == resp("hello", "3", "SETNAME", "pod-1") and PASSWORD.encode() not in passed
    assert out.getvalue() == b"" and g.open
    g, out = gate()
    assert g.feed(resp("HELLO", "3", "AUTH", "default", "guess")) == b""
    assert out.getvalue() == WRONGPASS and not g.open


def test_a_command_split_anywhere_is_read_the_same():
    data = resp("PING") + resp("AUTH", PASSWORD) + resp("GET", "k")
    for cut in range(1, len(data)):
        g, out = gate()
        passed = g.feed(data[:cut]) + g.feed(data[cut:])
        assert (out.getvalue(), passed) == (NOAUTH + b"+OK\r\n", resp("GET", "k")), cut


def test_quit_before_auth_closes():
    g, out = gate()
    assert g.feed(resp("QUIT") + resp("AUTH", PASSWORD)) == b""
    assert out.getvalue() == b"+OK\r\n" and g.closed and not g.open


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (resp(*["x"] * 11), b"unauthenticated multibulk length"),  # Redis allows 10 before AUTH
        (b"*1\r\n$16385\r\n", b"unauthenticated bulk length"),  # and 16 KB per argument
        (b"x" * 16385, b"too big inline request"),
        (b"*one\r\n", b"invalid literal"),
        (b"*1\r\n+PING\r\n", b"expected '$', got b'+'"),
    ],
    ids=["11 arguments", "a 16 KB + 1 argument", "a long inline line", "no number", "no bulk string"],
)
def test_an_oversized_or_malformed_request_before_auth_is_refused_and_closes(data, error):
    g, out = gate()
    assert g.feed(data) == b""
    reply = out.getvalue()
    assert reply.startswith(b"-ERR Protocol error: ") and error in reply and reply.endswith(b"\r\n")
    assert g.closed and not g.open
    assert g.feed(resp("AUTH", PASSWORD)) == b"" and out.getvalue() == reply  # closed stays closed


def test_parse_command_waits_for_a_whole_command():
    assert parse_command(b"*2\r\n$4\r\nAUTH\r\n$2\r\npw", 10, 100) is None
    assert parse_command(b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\nrest", 10, 100) == ([b"AUTH", b"pw"], b"rest")
    assert parse_command(b"AUTH pw", 10, 100) is None  # an inline command ends at its newline
    assert parse_command(b"*0\r\n", 10, 100) == ([], b"")
