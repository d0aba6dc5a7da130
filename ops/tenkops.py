"""The harness every ops script shares (engines/, faults/, alerts/, deploy/): free
ports, small HTTP calls, PASS/FAIL lines, cleanup that always runs, tenk-server on a
fresh database and Redis key prefix, and throw-away PostgreSQL clusters and replicas.

A script finds it from any working directory with

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "ops"))
    import tenkops

When a check fails, the tail of the log of every tenk-server started here is printed
under it (each line once), so that CI's output shows what the server said.
"""

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.environ.get(
    "TENK_SERVER_BIN",
    os.path.join(os.environ.get("CARGO_TARGET_DIR", "/var/tmp/tenk-target"), "debug", "tenk-server"),
)
PASSWORD = "correct horse battery staple"
LOG_TAIL = 30  # lines of a server's log shown under a failure


# ------------------------------------------------------------------ ports and waiting


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_port(port, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def eventually(check, seconds=15.0, every=0.2):
    """Whether `check()` turns true within `seconds`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return True
        time.sleep(every)
    return False


# ----------------------------------------------------------------------- results


class Results:
    """PASS/FAIL lines and the closing count; a FAIL shows the servers' new log lines."""

    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def check(self, label, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS  {label}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL  {label}  {detail}", flush=True)
            show_server_logs()
        return ok

    def finish(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0


class Cleanup:
    """Callbacks run in reverse order at exit, whatever happens."""

    def __init__(self):
        self.steps = []

    def add(self, step):
        self.steps.append(step)

    def __enter__(self):
        return self

    def __exit__(self, kind, *_):
        if kind is not None and kind is not KeyboardInterrupt:
            show_server_logs()  # before the servers stop: what led to the error
        for step in reversed(self.steps):
            try:
                step()
            except Exception as error:  # keep cleaning up
                print(f"cleanup: {error}", file=sys.stderr)
        return False


def stop(process, timeout=10):
    """Ends a process (SIGTERM, then SIGKILL after `timeout`); its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


# ----------------------------------------------------------------------- HTTP


def http(method, url, body=None, token=None, headers=None, timeout=10):
    """(status, parsed JSON or text, headers)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status, response_headers = response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw, status, response_headers = error.read(), error.code, dict(error.headers)
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, parsed, response_headers


def new_user(base):
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"
    status, _, _ = http("POST", f"{base}/api/auth/register", {"email": email, "password": PASSWORD, "name": "E"})
    assert status == 201, f"register: {status}"
    status, tokens, _ = http("POST", f"{base}/api/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, f"login: {status} {tokens}"
    return email, tokens


def parallel(calls, workers=16):
    """Runs callables on threads; returns their results in order."""
    results = [None] * len(calls)
    lock = threading.Lock()
    index = iter(range(len(calls)))

    def work():
        while True:
            with lock:
                i = next(index, None)
            if i is None:
                return
            try:
                results[i] = calls[i]()
            except Exception as error:
                results[i] = error

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# ------------------------------------------------------------------- tenk-server

_servers = []  # every Server of this process, for show_server_logs()


class Server:
    """tenk-server on its own port with `env` (plus defaults), restartable with other
    settings; its output goes to a log file in $TMPDIR, named when it fails to start."""

    def __init__(self, cleanup, env, port=None, name="tenk", stop_timeout=10):
        self.port = port or free_port()
        self.env = env
        self.stop_timeout = stop_timeout
        self.process = None
        self.log_path = os.path.join(tempfile.gettempdir(), f"{name}-{self.port}.log")
        self.log = open(self.log_path, "a")
        self.shown = self.log.tell()  # log bytes already printed under a failure
        _servers.append(self)
        cleanup.add(self.log.close)
        cleanup.add(self.stop)

    def start(self, **extra):
        if not os.path.exists(SERVER):
            raise RuntimeError(f"{SERVER} is missing: run `cargo build -p tenk-server` first")
        env = {"PATH": os.environ.get("PATH", ""), "PORT": str(self.port), "LOG_FORMAT": "json",
               "LOG_LEVEL": "warn,tenk_server=info", **self.env, **{k: str(v) for k, v in extra.items()}}
        self.log.write(f"--- start {json.dumps(extra)}\n")
        self.log.flush()
        self.process = subprocess.Popen([SERVER], env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd="/tmp")
        deadline = time.time() + 30
        while not port_open(self.port):
            code = self.process.poll()
            if code is not None or time.time() > deadline:
                state = f"exited with {code}" if code is not None else "not listening after 30 s"
                self.shown = os.path.getsize(self.log_path)  # shown here, not again below a FAIL
                raise RuntimeError(f"tenk-server on port {self.port} {state}; the end of its log, "
                                   f"{self.log_path}:\n{self.tail()}")
            time.sleep(0.1)
        return self.process

    def stop(self):
        return stop(self.process, self.stop_timeout) if self.process else None

    def tail(self, lines=LOG_TAIL, since=0):
        self.log.flush()
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def rss_mb(self):
        try:
            with open(f"/proc/{self.process.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except (OSError, AttributeError):
            pass
        return 0.0


def show_server_logs():
    """Prints what each server logged since the last time (its last LOG_TAIL lines)."""
    for server in _servers:
        if server.log.closed:
            continue
        text = server.tail(since=server.shown)
        server.shown = os.path.getsize(server.log_path)
        if text:
            print(f"      --- {server.log_path} (last lines):", flush=True)
            print("\n".join(f"      {line}" for line in text.splitlines()), flush=True)


def start_server(env, cleanup, port=None):
    """tenk-server started with `env` and a 5 s shutdown; returns (process, port)."""
    server = Server(cleanup, {"SHUTDOWN_TIMEOUT": "5", **env}, port, name="tenk-engines")
    return server.start(), server.port


def redis_prefix(name):
    """A Redis key prefix no other run shares."""
    return f"{name}:{uuid.uuid4().hex}:"


# ------------------------------------------------------------------- PostgreSQL

PG_BIN = (sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2])) or [None])[-1]


def psql(sql, port=5432, db="postgres", user="postgres"):
    subprocess.run(
        ["psql", "-q", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", db, "-c", sql],
        check=True, stdout=subprocess.DEVNULL,
    )


def fresh_database(cleanup, port=5432, name="tenk_engines"):
    """A database name no other run uses (tenk-server creates it), dropped at cleanup."""
    database = f"{name}_{uuid.uuid4().hex[:12]}"
    cleanup.add(lambda: psql(f"drop database if exists {database} with (force)", port=port))
    return database


def as_postgres(*command):
    subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


class Cluster:
    """A throw-away PostgreSQL cluster (initdb, trust on loopback) on a side port; with
    `primary`, a streaming replica of it made by pg_basebackup."""

    def __init__(self, cleanup, extra="", primary=None):
        if PG_BIN is None:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.extra = extra   # more server options (TLS on, say)
        self.root = tempfile.mkdtemp(prefix="tenk-pg-")
        shutil.chown(self.root, "postgres")
        cleanup.add(lambda: shutil.rmtree(self.root, ignore_errors=True))
        self.data = os.path.join(self.root, "data")
        self.port = free_port()
        if primary is None:
            as_postgres(f"{PG_BIN}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres")
            with open(os.path.join(self.data, "pg_hba.conf"), "a") as f:
                f.write("host replication all 127.0.0.1/32 trust\n")
        else:
            as_postgres(f"{PG_BIN}/pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                        "-D", self.data, "-R", "-X", "stream")
        self.start()
        cleanup.add(lambda: self.stop("immediate"))

    def ctl(self, *args):
        as_postgres(f"{PG_BIN}/pg_ctl", "-D", self.data, "-w", "-l", f"{self.data}.log", *args)

    def start(self):
        self.ctl("-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 {self.extra}", "start")

    def stop(self, mode):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self.ctl("-m", mode, "stop")

    def ready(self):
        return subprocess.run([f"{PG_BIN}/pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                              timeout=5).returncode == 0

    def query(self, database, sql):
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
                              "-Atc", sql], check=True, capture_output=True, text=True, timeout=30)
        return out.stdout

    def url(self, database):
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


# ------------------------------------------------------------------------ Redis


class Redis:
    """A throw-away redis-server on a side port, no persistence."""

    def __init__(self, cleanup):
        self.root = tempfile.mkdtemp(prefix="tenk-redis-")
        cleanup.add(lambda: shutil.rmtree(self.root, ignore_errors=True))
        self.port = free_port()
        self.process = None
        self.start()
        cleanup.add(self.kill)

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.root], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def ready(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False
