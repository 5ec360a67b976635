"""What the lab's store handles share about their helper processes (the embedded or real
Redis, PostgreSQL, a StatefulSet's pods): each helper watches its owner through its stdin,
prints one line when it is up, and stops its server and exits at EOF.
"""

import os
import subprocess
import threading


def read_line(proc, timeout):
    """The helper's next line on stdout, or why there is none (silent, or exited)."""
    result = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not result:
        return f"no answer within {timeout} s"
    return result[0] or f"exited with code {proc.poll()}"


def end_helper(proc, owner, timeout):
    """EOF on the helper's stdin: it stops its server, removes its data and exits; killed
    if it takes longer than ``timeout`` seconds. Returns False, doing nothing, in a forked
    child of the owner's process (whose atexit runs the owner's finalizers too: the server
    is its parent's, not its own)."""
    if os.getpid() != owner:
        return False
    try:
        proc.stdin.close()
    except OSError:  # a write still buffered when the helper was already gone
        pass
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()
    return True


def obey(keeper, line, can_crash=False):
    """One command from the lab to a Redis keeper: ``down``, ``up``, ``slow [seconds]``, and
    ``crash`` where the keeper can; returns the command, or raises ValueError for another."""
    cmd, *arg = line.split() or [""]
    if cmd == "down":
        keeper.down()
    elif cmd == "up":
        keeper.up()
    elif cmd == "slow":
        keeper.delay = float(arg[0]) if arg else 0.0
    elif cmd == "crash" and can_crash:
        keeper.crash()
    else:
        raise ValueError(f"unknown command {cmd}")
    return cmd
