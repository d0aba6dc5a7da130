"""Shared helpers for the engine tests: free ports, tenk-server processes,
throw-away databases, small HTTP calls, and cleanup that always runs."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SERVER = os.environ.get(
    "TENK_SERVER_BIN",
    os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")), "debug", "tenk-server"),
)
PASSWORD = "correct horse battery staple"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def psql(sql, port=5432, db="postgres", user="postgres"):
    subprocess.run(
        ["psql", "-q", "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", db, "-c", sql],
        check=True, stdout=subprocess.DEVNULL,
    )


class Results:
    """PASS/FAIL lines and the closing count."""

    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def check(self, label, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS  {label}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL  {label}  {detail}", flush=True)
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

    def __exit__(self, *exc):
        for step in reversed(self.steps):
            try:
                step()
            except Exception as error:  # keep cleaning up
                print(f"cleanup: {error}", file=sys.stderr)
        return False


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_server(env, cleanup, port=None):
    """Starts tenk-server with `env` (plus defaults) and returns (process, port)."""
    port = port or free_port()
    base = {
        "PATH": os.environ.get("PATH", ""),
        "PORT": str(port),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "warn,tenk_server=info",
        "SHUTDOWN_TIMEOUT": "5",
    }
    base.update(env)
    if not os.path.exists(SERVER):
        raise RuntimeError(f"{SERVER} is missing: run `cargo build -p tenk-server` first")
    log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), f"tenk-engines-{port}.log"), "w")
    process = subprocess.Popen([SERVER], env=base, stdout=log, stderr=subprocess.STDOUT, cwd="/tmp")
    cleanup.add(lambda: stop(process))
    cleanup.add(log.close)
    wait_port(port)
    return process, port


def fresh_database(cleanup, port=5432):
    name = f"tenk_engines_{uuid.uuid4().hex[:12]}"
    cleanup.add(lambda: psql(f"drop database if exists {name} with (force)", port=port))
    return name


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
