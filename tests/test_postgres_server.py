"""The PostgreSQL server a lab starts for itself (finpay_lab/stores/postgres_server.py): a
real ``postgres`` on 127.0.0.1, its password on no command line, not root, and gone with
the lab on every exit path (close, an exception, garbage collection, SIGKILL of the lab's
process, SIGKILL of the helper): no postgres process, no data directory."""

import gc
import json
import os
import pathlib
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap

import psutil
import pytest

from finpay_lab.errors import DatabaseUnavailable
from finpay_lab.stores import postgres_server
from finpay_lab.stores.postgres_server import PostgresServer, find_binary, have_postgres, safe_url

from .conftest import gone

pytestmark = pytest.mark.skipif(
    not have_postgres(),
    reason="no PostgreSQL server binaries (initdb, postgres) on PATH or in /usr/lib/postgresql/*/bin: "
    "apt-get install postgresql",
)


@pytest.fixture
def tmp_path():
    """A work dir in /tmp itself, not under pytest's /tmp/pytest-of-USER: pytest resets that
    one to 0700 whenever a pytest starts, which would lock out a server run as 'postgres'
    (a lab's work dir is /tmp/finpay-lab-*, which nothing else touches)."""
    path = tempfile.mkdtemp(prefix="finpay-test-")
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


def server_dirs(workdir):
    return [os.path.join(workdir, d) for d in os.listdir(workdir) if d.startswith("postgres-")]


def family(pid):
    """The helper and every process under it (the postmaster and its backends)."""
    return [pid] + [p.pid for p in psutil.Process(pid).children(recursive=True)]


def left_behind(pids, workdir):
    """What outlived its owner: living pids, and server dirs."""
    return [pid for pid in pids if not gone(pid, within=10)], server_dirs(workdir)


def connect(server, **kwargs):
    import psycopg

    return psycopg.connect(server.url, autocommit=True, **kwargs)


# ---------------------------------------------------------------- the server


@pytest.fixture
def server(tmp_path):
    server = PostgresServer().start(str(tmp_path))
    yield server
    server.stop()


def test_a_real_postgres_on_localhost_in_the_work_dir_not_as_root(server, tmp_path):
    with connect(server) as conn:
        version, fsync, listen = conn.execute(
            "SELECT version(), current_setting('fsync'), current_setting('listen_addresses')"
        ).fetchone()
    assert version.startswith("PostgreSQL") and fsync == "off" and listen == "127.0.0.1"
    (home,) = server_dirs(str(tmp_path))
    postmaster = psutil.Process(family(server.pid)[1])
    assert postmaster.name() == "postgres" and os.path.join(home, "data") in postmaster.cmdline()
    if os.geteuid() == 0:  # postgres refuses root: the lab runs it as an unprivileged user
        assert postmaster.username() in ("postgres", "nobody")
    assert stat.S_IMODE(os.stat(server.socket_dir).st_mode) == 0o700  # a private socket dir
    assert os.path.exists(
        os.path.join(server.socket_dir, f".s.PGSQL.{server.url.rsplit(':', 1)[1].split('/')[0]}")
    )
    import psycopg

    password = server.url.split(":")[2].split("@")[0]
    with psycopg.connect(
        host=server.socket_dir,
        port=server.url.rsplit(":", 1)[1].split("/")[0],
        user="finpay",
        password=password,
        dbname="postgres",
    ) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the Unix socket works too


def test_the_password_is_on_no_command_line_and_not_in_safe_url(server, tmp_path):
    password = server.url.split(":")[2].split("@")[0]
    assert len(password) >= 32
    for proc in psutil.process_iter(["cmdline"]):
        assert password not in " ".join(proc.info["cmdline"] or [])
    assert password not in server.safe_url and server.safe_url.startswith(
        "postgresql://finpay:***@127.0.0.1:"
    )
    with pytest.raises(Exception, match="password authentication failed"):
        import psycopg

        psycopg.connect(server.url.replace(password, "guess"))
    assert not os.path.exists(os.path.join(server_dirs(str(tmp_path))[0], "pwfile"))  # removed after initdb


def test_fsync_is_a_parameter(tmp_path):
    server = PostgresServer(fsync=True).start(str(tmp_path))
    try:
        with connect(server) as conn:
            assert conn.execute("SHOW fsync").fetchone() == ("on",)
    finally:
        server.stop()


def test_safe_url_hides_only_the_password():
    assert safe_url("postgresql://me:secret@db:5432/x") == "postgresql://me:***@db:5432/x"
    assert safe_url("postgresql://me@db/x") == "postgresql://me@db/x"
    assert safe_url(None) is None


# ---------------------------------------------------------------- finding the binaries


def test_binaries_are_found_in_apts_directory_when_not_on_path(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    path = find_binary("initdb")
    if not path:
        pytest.skip("PostgreSQL is on PATH only, not in /usr/lib/postgresql")
    assert path.startswith("/usr/lib/postgresql/") and path.endswith("/bin/initdb")


def test_no_binaries_is_a_clear_error_naming_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(postgres_server, "find_binary", lambda name: None)
    with pytest.raises(DatabaseUnavailable, match="apt-get install postgresql.*brew install postgresql"):
        PostgresServer().start(str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_a_server_that_cannot_start_says_why_and_leaves_nothing(tmp_path):
    missing = str(tmp_path / "no" / "such" / "dir")
    with pytest.raises(DatabaseUnavailable, match="did not start: .*No such file"):
        PostgresServer().start(missing)
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- nothing outlives the lab


def test_stop_leaves_no_process_and_no_data(tmp_path):
    server = PostgresServer().start(str(tmp_path))
    pids = family(server.pid)
    assert len(pids) >= 3 and len(server_dirs(str(tmp_path))) == 1
    server.stop()
    server.stop()  # twice is fine
    assert left_behind(pids, str(tmp_path)) == ([], [])


def test_a_garbage_collected_handle_stops_its_server(tmp_path):
    server = PostgresServer().start(str(tmp_path))  # a notebook cell run again drops it
    pids = family(server.pid)
    del server
    gc.collect()
    assert left_behind(pids, str(tmp_path)) == ([], [])


LAB_PROCESS = """
import json, sys, psutil
from finpay_lab.stores.postgres_server import PostgresServer
server = PostgresServer().start(sys.argv[1])
helper = psutil.Process(server.pid)
print(json.dumps([server.pid] + [p.pid for p in helper.children(recursive=True)]), flush=True)
if sys.argv[2] == "raise":
    raise RuntimeError("the lab's code failed")
sys.stdin.readline()  # wait to be killed
"""


@pytest.mark.parametrize("end", ["raise", "SIGKILL"])
def test_the_labs_process_ending_by_an_exception_or_sigkill_stops_its_server(tmp_path, end):
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(LAB_PROCESS), str(tmp_path), end],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pids = json.loads(proc.stdout.readline())
    assert len(pids) >= 3 and len(server_dirs(str(tmp_path))) == 1
    if end == "SIGKILL":
        os.kill(proc.pid, signal.SIGKILL)  # nothing of the lab's process runs: the helper sees EOF
    code = proc.wait(timeout=30)
    assert code == (-signal.SIGKILL if end == "SIGKILL" else 1)
    if end == "raise":
        assert "the lab's code failed" in proc.stderr.read()
    proc.stdin.close(), proc.stdout.close(), proc.stderr.close()
    assert left_behind(pids, str(tmp_path)) == ([], [])


def test_a_sigkilled_helper_takes_its_server_with_it(tmp_path):
    """The helper cannot clean up after a SIGKILL: the kernel ends the postmaster
    (PR_SET_PDEATHSIG, set after the switch to the unprivileged user, which would clear it),
    and the lab's work dir, removed by close or the guardian, holds the data dir."""
    server = PostgresServer().start(str(tmp_path))
    pids = family(server.pid)
    try:
        os.kill(server.pid, signal.SIGKILL)
        assert [pid for pid in pids if not gone(pid, within=10)] == []
    finally:
        server.stop()
    assert server_dirs(str(tmp_path))  # the lab's work dir removal takes this (not the helper)


def test_an_exception_inside_a_with_block_stops_the_server(tmp_path):
    with pytest.raises(RuntimeError, match="a cell failed"), PostgresServer().start(str(tmp_path)) as server:
        pids = family(server.pid)
        raise RuntimeError("a cell failed")
    assert left_behind(pids, str(tmp_path)) == ([], [])


def test_a_forked_child_that_exits_leaves_the_parents_server_alone(tmp_path):
    """A fork of the notebook's process (a multiprocessing Pool with fork) runs the
    parent's atexit finalizers when it exits: they must not stop the parent's server."""
    code = textwrap.dedent("""
        import os, sys, psycopg
        from finpay_lab.stores.postgres_server import PostgresServer
        server = PostgresServer().start(sys.argv[1])
        child = os.fork()
        if child == 0:
            sys.exit(0)  # a normal exit: atexit runs every registered finalizer
        os.waitpid(child, 0)
        with psycopg.connect(server.url, connect_timeout=10) as conn:
            print(conn.execute("SELECT 1").fetchone()[0], flush=True)
        server.stop()
    """)
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert out.stdout.split() == ["1"], out.stderr
