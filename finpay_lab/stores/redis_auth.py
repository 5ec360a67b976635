"""Redis's ``requirepass`` for the embedded server, which does not enforce it itself.

Real Redis with a password answers every command of a new connection with
``-NOAUTH Authentication required.`` until the client sends ``AUTH <password>``. fakeredis
accepts ``requirepass`` but lets everything through, so any local user could change the
lab's balances. ``AuthGate`` stands in front of each fakeredis connection and does what
Redis does; once the client has authenticated, bytes pass through untouched.
"""

import secrets


class AuthGate:
    """What real Redis does with ``requirepass``, for a fakeredis connection: until the
    client sends ``AUTH password`` (or ``HELLO 3 AUTH default password``), every command
    is answered ``-NOAUTH Authentication required.`` and reaches no data. Unauthenticated
    commands are kept small, as Redis keeps them (at most 10 arguments of 16 KB)."""

    MAX_ARGS, MAX_ARG = 10, 16384

    def __init__(self, password, out):
        self.password = password.encode()
        self.out = out
        self.open = False
        self.closed = False
        self.buffer = b""

    def feed(self, data):
        """Answer the complete commands in ``data``; returns the bytes to pass on to the
        server once the client has authenticated (b"" until then)."""
        self.buffer += data
        while not self.open and not self.closed:
            try:
                parsed = parse_command(self.buffer, self.MAX_ARGS, self.MAX_ARG)
            except ValueError as exc:
                self._reply(f"-ERR Protocol error: {exc}")
                self.closed = True
                break
            if parsed is None:
                break
            args, self.buffer = parsed
            if args:
                self._answer([args[0].lower()] + args[1:])
        if self.open:
            rest, self.buffer = self.buffer, b""
            return rest
        return b""

    def _answer(self, args):
        name = args[0]
        if name == b"auth":
            if len(args) not in (2, 3):
                return self._reply("-ERR wrong number of arguments for 'auth' command")
            return self._login(args[1:], b"+OK")
        if name == b"hello" and len(args) >= 5 and args[2].lower() == b"auth":
            # HELLO protover AUTH user pass [SETNAME name]: log in, then let the server
            # answer the HELLO itself, without the credentials.
            rest = [b"hello", args[1]] + args[5:]
            return self._login(
                args[3:5], b"".join([b"*%d\r\n" % len(rest)] + [b"$%d\r\n%s\r\n" % (len(a), a) for a in rest])
            )
        if name == b"quit":
            self._reply("+OK")
            self.closed = True
            return None
        return self._reply("-NOAUTH Authentication required.")

    def _login(self, credentials, on_success):
        user, password = (b"default", credentials[0]) if len(credentials) == 1 else credentials
        if user == b"default" and secrets.compare_digest(password, self.password):
            self.open = True
            if on_success.startswith(b"+"):
                self._reply(on_success.decode())
            else:  # a command for the server to answer: first in line
                self.buffer = on_success + self.buffer
        else:
            self._reply("-WRONGPASS invalid username-password pair or user is disabled.")

    def _reply(self, line):
        self.out.write(line.encode() + b"\r\n")
        self.out.flush()


def parse_command(buf, max_args, max_arg):
    """One command from the start of ``buf``: ``(args, rest)``, or None if incomplete.
    Speaks RESP arrays (``*2\\r\\n$4\\r\\nAUTH...``) and inline commands (``AUTH pw``)."""
    if not buf.startswith(b"*"):
        end = buf.find(b"\n")
        if end < 0:
            if len(buf) > max_arg:
                raise ValueError("too big inline request")
            return None
        return buf[:end].split(), buf[end + 1 :]
    end = buf.find(b"\r\n")
    if end < 0:
        return None
    count = int(buf[1:end])  # ValueError if it is no number
    if count > max_args:
        raise ValueError("unauthenticated multibulk length")
    pos, args = end + 2, []
    for _ in range(count):
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return None
        if buf[pos : pos + 1] != b"$":
            raise ValueError(f"expected '$', got {buf[pos : pos + 1]!r}")
        size = int(buf[pos + 1 : end])
        if not 0 <= size <= max_arg:
            raise ValueError("unauthenticated bulk length")
        start = end + 2
        if len(buf) < start + size + 2:
            return None
        args.append(buf[start : start + size])
        pos = start + size + 2
    return args, buf[pos:]
