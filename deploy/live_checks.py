#!/usr/bin/env python3
"""Live checks of deploy/ with the real programs from Debian, on 127.0.0.1 only
(run by deploy/check.sh; root, since PostgreSQL and PgBouncer run as `postgres`):

    python3 deploy/live_checks.py nginx        # the load balancer, in front of stub replicas
    python3 deploy/live_checks.py pgbouncer    # PgBouncer loads pgbouncer.ini, SHOW CONFIG
    python3 deploy/live_checks.py postgres     # primary-init.sh + replica-entrypoint.sh stream;
                                               # PgBouncer in front of that primary

Each starts what it needs on free loopback ports in a temporary folder, checks, and
stops everything it started (also on failure). Stdlib only.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "ops"))
from tenkops import PG_BIN, free_port, port_open  # noqa: E402

DEPLOY = ROOT / "deploy"
failures: list[str] = []


def check(condition: bool, message: str) -> None:
    print(f"  {'ok' if condition else 'error'}: {message}")
    if not condition:
        failures.append(message)


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def start(stack: ExitStack, argv: list[str], log: Path, **kwargs) -> subprocess.Popen:
    handle = log.open("wb")
    process = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, **kwargs)

    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        handle.close()

    stack.callback(stop)
    return process


def as_postgres(argv: list[str]) -> list[str]:
    return argv if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--", *argv]


# --- nginx -------------------------------------------------------------------------


class EchoHandler(http.server.BaseHTTPRequestHandler):
    """A stand-in replica: answers every request with the headers it received."""

    protocol_version = "HTTP/1.1"

    def handle_any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps({"method": self.command, "path": self.path, "headers": dict(self.headers)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = handle_any

    def log_message(self, *args) -> None:  # quiet
        pass


def fetch(url: str, headers: dict[str, str] | None = None, data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def live_nginx(work: Path, stack: ExitStack) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
    stack.callback(backend.server_close)
    stack.callback(backend.shutdown)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    live, dead, listen = backend.server_address[1], free_port(), free_port()

    # The compose names become loopback ports: api-2 is a replica that is down.
    config = (DEPLOY / "nginx" / "nginx.conf").read_text(encoding="utf-8")
    ports = {"api-1": live, "api-2": dead, "api-3": live}
    config, replaced = re.subn(
        r"\b(api-\d+):8080 resolve\b", lambda m: f"127.0.0.1:{ports[m.group(1)]}", config
    )
    check(replaced == 3, "test copy: 3 upstream servers mapped to loopback (the `resolve` flag needs nginx >= 1.27.3)")
    check("resolver ${NGINX_RESOLVER} " in config, "the resolver is the template's ${NGINX_RESOLVER}")
    config = config.replace("${NGINX_RESOLVER}", "127.0.0.1")
    config = re.sub(r"listen 8080;", f"listen 127.0.0.1:{listen};", config)
    (work / "nginx.conf").write_text(config, encoding="utf-8")
    base = ["-p", f"{work}/", "-c", f"{work}/nginx.conf", "-e", "stderr", "-g", f"pid {work}/nginx.pid; daemon off;"]
    test = subprocess.run([nginx, "-t", *base[:-2]], capture_output=True, text=True)
    check(test.returncode == 0, f"nginx -t: {test.stderr.strip().splitlines()[-1] if test.stderr else ''}")
    if test.returncode:
        print(test.stderr)
        return
    start(stack, [nginx, *base], work / "nginx.log")
    wait_for(lambda: port_open(listen), 10, "nginx")
    url = f"http://127.0.0.1:{listen}"

    status, body = fetch(f"{url}/nginx-health")
    check(status == 200 and body == b"ok\n", "GET /nginx-health answers 200 without an upstream")
    status, _ = fetch(f"{url}/metrics")
    check(status == 404, "GET /metrics is not served through the load balancer (404)")

    seen = []
    for _ in range(9):
        status, body = fetch(f"{url}/api/health", {"X-Forwarded-For": "203.0.113.7"})
        seen.append(status)
        if status == 200:
            echoed = json.loads(body)["headers"]
    check(seen == [200] * 9, f"9 GETs all 200 with one replica down (idempotent retry): {seen}")
    check(echoed.get("X-Forwarded-For") == "203.0.113.7, 127.0.0.1",
          f"X-Forwarded-For gets the peer appended: {echoed.get('X-Forwarded-For')!r}")
    check(echoed.get("X-Real-IP") == "127.0.0.1" and echoed.get("X-Forwarded-Proto") == "http",
          "X-Real-IP and X-Forwarded-Proto are set")
    check(bool(re.fullmatch(r"[0-9a-f]{32}", echoed.get("X-Request-Id", ""))),
          f"a request without X-Request-Id gets one from nginx: {echoed.get('X-Request-Id')!r}")
    check(echoed.get("Connection", "").lower() != "close", "upstream connections are kept alive (HTTP/1.1)")
    _, body = fetch(f"{url}/api/health", {"X-Request-Id": "client-id-1"})
    check(json.loads(body)["headers"].get("X-Request-Id") == "client-id-1", "a client's X-Request-Id is kept")
    status, _ = fetch(f"{url}/api/auth/login", {"Content-Type": "application/json"}, b"x" * (3 * 1024 * 1024))
    check(status == 413, f"a body over client_max_body_size is refused by nginx: {status}")
    log = (work / "nginx.log").read_text(encoding="utf-8", errors="replace")
    check(f"127.0.0.1:{dead}" in log and "connect() failed" in log,
          "the down replica was tried, failed, and the GET went on to another one")
    access = [line for line in log.splitlines() if line.startswith("{")]
    check(bool(access) and all(json.loads(line).get("request_id") is not None for line in access),
          "access log lines are JSON with the request id")


# --- pgbouncer ---------------------------------------------------------------------

# Settings the apt PgBouncer (1.18) does not know; the image's (>= 1.21) does.
NEWER_THAN_APT = ("max_prepared_statements",)


def pgbouncer_version() -> tuple[int, int]:
    words = subprocess.run(["pgbouncer", "--version"], capture_output=True, text=True).stdout.split()
    return tuple(int(part) for part in words[1].split(".")[:2])  # type: ignore[return-value]


def start_pgbouncer(work: Path, stack: ExitStack, password: str, backend_port: int = 5432) -> tuple[subprocess.Popen, int]:
    """PgBouncer with a copy of pgbouncer.ini: loopback port, a test auth file, the
    primary on 127.0.0.1:backend_port, and without the settings apt's older
    PgBouncer does not know."""
    port = free_port()
    folder = work / "pgbouncer"
    folder.mkdir()
    userlist = folder / "userlist.txt"
    userlist.write_text(f'"tenk" "{password}"\n', encoding="utf-8")
    lines = []
    dropped = []
    for line in (DEPLOY / "pgbouncer" / "pgbouncer.ini").read_text(encoding="utf-8").splitlines():
        key = line.split("=", 1)[0].strip()
        if key in NEWER_THAN_APT and pgbouncer_version() < (1, 21):
            dropped.append(key)
            continue
        if key == "listen_addr":
            line = "listen_addr = 127.0.0.1"
        elif key == "listen_port":
            line = f"listen_port = {port}"
        elif key == "auth_file":
            line = f"auth_file = {userlist}"
        elif key == "*":
            line = f"* = host=127.0.0.1 port={backend_port}"
        lines.append(line)
    (folder / "pgbouncer.ini").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if os.geteuid() == 0:
        for path in (work, folder, *folder.iterdir()):
            shutil.chown(path, "postgres")
    print(f"  (PgBouncer {'.'.join(map(str, pgbouncer_version()))}; left out for it: {', '.join(dropped) or 'nothing'})")
    process = start(stack, as_postgres(["pgbouncer", "-v", str(folder / "pgbouncer.ini")]), work / "pgbouncer.log")
    try:
        wait_for(lambda: port_open(port) or process.poll() is not None, 10, "pgbouncer")
    except RuntimeError:
        pass
    return process, port


def live_pgbouncer(work: Path, stack: ExitStack) -> None:
    password = "check-" + os.urandom(8).hex()
    process, port = start_pgbouncer(work, stack, password)
    check(process.poll() is None and port_open(port), "pgbouncer loads the configuration and listens")
    if process.poll() is not None:
        print((work / "pgbouncer.log").read_text(encoding="utf-8", errors="replace")[-3000:])
        return
    ready = subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", str(port), "-U", "tenk", "-d", "pgbouncer", "-q"],
                           timeout=20)
    check(ready.returncode == 0,
          "the container health check (pg_isready -h 127.0.0.1 -p 6432 -U tenk -d pgbouncer) passes against it")
    env = {**os.environ, "PGPASSWORD": password}
    shown = subprocess.run(
        ["psql", "-X", "-A", "-t", "-F", "=", "-h", "127.0.0.1", "-p", str(port), "-U", "tenk", "pgbouncer",
         "-c", "SHOW CONFIG"],
        capture_output=True, text=True, env=env, timeout=20,
    )
    check(shown.returncode == 0, f"SCRAM login of `tenk` to the console (stats_users): {shown.stderr.strip()}")
    config = {}
    for row in shown.stdout.splitlines():
        parts = row.split("=")
        if len(parts) >= 2:
            config[parts[0]] = parts[1]
    for key, wanted in (("pool_mode", "transaction"), ("auth_type", "scram-sha-256"),
                        ("ignore_startup_parameters", "extra_float_digits"), ("default_pool_size", "20")):
        check(config.get(key) == wanted, f"PgBouncer reports {key} = {config.get(key)!r} (want {wanted!r})")
    if pgbouncer_version() >= (1, 21):
        check(config.get("max_prepared_statements") == "200", "PgBouncer reports max_prepared_statements = 200")
    log = (work / "pgbouncer.log").read_text(encoding="utf-8", errors="replace")
    check("WARNING" not in log and "ERROR" not in log, "no warning or error in its log")


# --- replication -------------------------------------------------------------------


def live_replication(work: Path, stack: ExitStack) -> None:
    """Runs deploy/postgres/primary-init.sh the way the postgres image does (during
    initialisation, over the socket), then deploy/postgres/replica-entrypoint.sh with
    `gosu` and `docker-entrypoint.sh` replaced by small stand-ins, and checks that the
    replica streams from the primary through the slot."""
    if PG_BIN is None:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    binaries = Path(PG_BIN)
    primary_dir, replica_dir, sockets, shims, passdir = (work / n for n in ("primary", "replica", "sockets", "shims", "home"))
    for folder in (sockets, shims, passdir):
        folder.mkdir()
    if os.geteuid() == 0:
        for folder in (work, sockets, passdir):
            shutil.chown(folder, "postgres")
    primary_port, replica_port = free_port(), free_port()
    postgres_password = os.urandom(12).hex()
    replication_password = "s3cr:et\\" + os.urandom(6).hex()  # ':' and '\' must survive the passfile
    env = {**os.environ, "PATH": f"{shims}:{binaries}:{os.environ['PATH']}"}

    pwfile = work / "pw"
    pwfile.write_text(postgres_password, encoding="utf-8")
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres")
    subprocess.run(as_postgres([str(binaries / "initdb"), "-D", str(primary_dir), "-U", "tenk", "--pwfile", str(pwfile),
                                "--auth-local=trust", "--auth-host=scram-sha-256"]),
                   check=True, capture_output=True, env=env)
    # initdb lets loopback replication in; the replica container connects from another
    # address, which only the line primary-init.sh adds lets in. Drop initdb's lines.
    hba = primary_dir / "pg_hba.conf"
    hba.write_text("".join(line for line in hba.read_text(encoding="utf-8").splitlines(keepends=True)
                           if not re.match(r"\s*(local|host)\s+replication\b", line)), encoding="utf-8")
    common = ["-c", f"unix_socket_directories={sockets}", "-c", "listen_addresses=127.0.0.1"]
    primary = start(stack, as_postgres([str(binaries / "postgres"), "-D", str(primary_dir), "-p", str(primary_port), *common,
                                        "-c", "wal_level=replica", "-c", "max_wal_senders=5",
                                        "-c", "max_replication_slots=5"]), work / "primary.log", env=env)
    # Accepting connections, not only listening: a listening server may still answer
    # "the database system is starting up" (seen on a busy machine).
    wait_for(lambda: primary.poll() is not None or subprocess.run(
        ["pg_isready", "-q", "-h", str(sockets), "-p", str(primary_port)]).returncode == 0, 30, "the primary")
    subprocess.run(as_postgres(["createdb", "-h", str(sockets), "-p", str(primary_port), "-U", "tenk", "tenk"]),
                   check=True, env=env, capture_output=True)

    init_env = {**env, "POSTGRES_USER": "tenk", "POSTGRES_DB": "tenk", "PGDATA": str(primary_dir),
                "PGHOST": str(sockets), "PGPORT": str(primary_port), "REPLICATION_PASSWORD": replication_password}
    init = subprocess.run(as_postgres(["bash", str(DEPLOY / "postgres" / "primary-init.sh")]),
                          capture_output=True, text=True, env=init_env)
    check(init.returncode == 0, f"primary-init.sh creates the role and the slot {init.stderr.strip()}")
    if init.returncode:
        return
    subprocess.run(as_postgres([str(binaries / "pg_ctl"), "reload", "-D", str(primary_dir)]), check=True,
                   capture_output=True, env=env)

    # Stand-ins for the postgres image's gosu and docker-entrypoint.sh.
    (shims / "gosu").write_text('#!/bin/sh\nuser=$1; shift\nif [ "$(id -u)" = 0 ]; then exec runuser -u "$user" -- "$@"; fi\nexec "$@"\n')
    (shims / "docker-entrypoint.sh").write_text(
        '#!/bin/sh\nshift\n'
        f'if [ "$(id -u)" = 0 ]; then exec runuser -u postgres -- postgres -D "$PGDATA" -p {replica_port} '
        f'-c unix_socket_directories={sockets} -c listen_addresses=127.0.0.1 "$@"; fi\n'
        f'exec postgres -D "$PGDATA" -p {replica_port} -c unix_socket_directories={sockets} '
        '-c listen_addresses=127.0.0.1 "$@"\n')
    for shim in shims.iterdir():
        shim.chmod(0o755)
    replica_env = {**env, "REPLICATION_PASSWORD": replication_password, "PRIMARY_HOST": "127.0.0.1",
                   "PRIMARY_PORT": str(primary_port), "REPLICATION_SLOT": "replica_1", "PGDATA": str(replica_dir),
                   "PGPASS_DIR": str(passdir)}
    replica = start(stack, ["bash", str(DEPLOY / "postgres" / "replica-entrypoint.sh"), "postgres", "-c", "hot_standby=on"],
                    work / "replica.log", env=replica_env)
    try:
        wait_for(lambda: port_open(replica_port) or replica.poll() is not None, 60, "the replica")
    except RuntimeError as exc:
        check(False, str(exc))
    log = (work / "replica.log").read_text(encoding="utf-8", errors="replace")
    check(replica.poll() is None and port_open(replica_port), "replica-entrypoint.sh clones the primary and starts the standby")
    if replica.poll() is not None:
        print(log[-3000:])
        return
    auto_conf = (replica_dir / "postgresql.auto.conf").read_text(encoding="utf-8")
    check(replication_password not in auto_conf, "the replication password is not written into the data directory")

    def sql(port: int, query: str) -> str:
        done = subprocess.run(as_postgres(["psql", "-X", "-A", "-t", "-h", str(sockets), "-p", str(port), "-U", "tenk",
                                           "-d", "tenk", "-c", query]), capture_output=True, text=True, env=env)
        return done.stdout.strip() if done.returncode == 0 else f"error: {done.stderr.strip()}"

    in_recovery = ""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and in_recovery != "t":
        in_recovery = sql(replica_port, "select pg_is_in_recovery()")
        time.sleep(0.2)
    check(in_recovery == "t", f"the replica is a hot standby (in recovery): {in_recovery}")
    marker = os.urandom(6).hex()
    sql(primary_port, f"create table replication_check(v text); insert into replication_check values ('{marker}')")
    deadline = time.monotonic() + 20
    seen = ""
    while time.monotonic() < deadline and seen != marker:
        seen = sql(replica_port, "select v from replication_check")
        time.sleep(0.2)
    check(seen == marker, "a row written on the primary is read on the replica")
    slot = sql(primary_port, "select slot_name || ':' || active from pg_replication_slots")
    check(slot == "replica_1:true", f"the replica streams through slot replica_1 ({slot})")
    standby = sql(primary_port, "select usename || ':' || application_name || ':' || state from pg_stat_replication")
    check(standby == "replicator:replica_1:streaming", f"pg_stat_replication: {standby}")

    # PgBouncer (pgbouncer.ini) in front of this primary, as the API reaches it.
    bouncer, port = start_pgbouncer(work, stack, postgres_password, primary_port)
    check(bouncer.poll() is None and port_open(port), "PgBouncer in front of the primary is up")
    through = {**env, "PGPASSWORD": postgres_password}
    for database, query, wanted in (("tenk", "select v from replication_check", marker),
                                    ("postgres", "select datname from pg_database where datname = 'tenk'", "tenk")):
        done = subprocess.run(["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(port), "-U", "tenk", "-d", database,
                               "-c", query], capture_output=True, text=True, env=through, timeout=20)
        check(done.stdout.strip() == wanted,
              f"through PgBouncer (SCRAM, transaction pooling) to database {database}: {done.stdout.strip() or done.stderr.strip()!r}")


CHECKS = {"nginx": live_nginx, "pgbouncer": live_pgbouncer, "postgres": live_replication}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in CHECKS:
        print(__doc__, file=sys.stderr)
        return 2
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix=f"tenk-deploy-{argv[1]}-"))
        if os.environ.get("TENK_DEPLOY_KEEP") != "1":
            stack.callback(shutil.rmtree, work, True)
        else:
            print(f"  (keeping {work})")
        try:
            CHECKS[argv[1]](work, stack)
        except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
            check(False, f"{argv[1]}: {type(exc).__name__}: {exc}")
            for log in sorted(work.glob("*.log")):
                print(f"--- {log.name}\n{log.read_text(encoding='utf-8', errors='replace')[-2000:]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
