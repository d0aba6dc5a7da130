"""DB_SSL_MODE against a PostgreSQL without TLS and with TLS (a test CA and
a server certificate for `localhost` only, made with openssl): each mode
starts, or refuses to start with a message that names the cause, and the
connections it opens are encrypted or not as documented (`pg_stat_ssl`).
A refused start creates nothing: the database-existence check uses the
pool's TLS settings, so no credentials go to an unverified server.

Part of the fault suite (`run.sh`); alone: `python3 faults/tls.py` (root,
like the suite: the cluster runs as the postgres user).
"""

import collections
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

START_LIMIT = 30.0   # seconds for a start to end in readiness or an exit


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class Certificates:
    """A CA, and a server certificate it signed for DNS:localhost only."""

    def __init__(self, cleanup):
        self.dir = tempfile.mkdtemp(prefix="tenk-tls-")
        shutil.chown(self.dir, "postgres")
        cleanup.add(lambda: shutil.rmtree(self.dir, ignore_errors=True))
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
                "-subj", "/CN=tenk test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=self.dir)
        openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=self.dir)
        with open(os.path.join(self.dir, "server.ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "server.pem", "-days", "2", "-extfile", "server.ext", cwd=self.dir)
        for name in ("server.key", "server.pem"):
            path = os.path.join(self.dir, name)
            shutil.chown(path, "postgres")
            os.chmod(path, 0o600)
        self.ca = os.path.join(self.dir, "ca.pem")
        # PostgreSQL server options that turn TLS on with this certificate.
        self.server_options = (f"-c ssl=on -c ssl_cert_file={self.dir}/server.pem "
                               f"-c ssl_key_file={self.dir}/server.key")


def abandoned_handshakes(pg):
    """TLS handshakes a client opened and dropped, from PostgreSQL's log."""
    try:
        with open(f"{pg.data}.log", errors="replace") as f:
            return sum("could not accept SSL connection" in line for line in f)
    except OSError:
        return 0


def start(server, env, log_path):
    """("ready", process) once /api/health/ready answers 200, or ("exit", code)."""
    port = env["PORT"]
    with open(log_path, "w") as log:
        process = subprocess.Popen([server], env=env, stdout=log, stderr=subprocess.STDOUT, cwd="/tmp")
    deadline = time.monotonic() + START_LIMIT
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            return "exit", code
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health/ready", timeout=1) as reply:
                if reply.status == 200:
                    return "ready", process
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    process.kill()
    process.wait()
    return "timeout", None


def encrypted(pg, database):
    """How many of the server's connections to `database` use TLS, and how many there are."""
    out = pg.query("postgres", "select count(*) filter (where s.ssl), count(*) from pg_stat_ssl s "
                               f"join pg_stat_activity a using (pid) where a.datname = '{database}'")
    tls, total = out.strip().split("|")
    return int(tls), int(total)


Context = collections.namedtuple("Context", "results pg redis_port server free_port work")


def case(ctx, label, mode, expect, host="127.0.0.1", query="", cause=None):
    """Starts tenk with `mode`; `expect` is "tls", "plain" or "refused" (with `cause` in its log)."""
    results, pg, redis_port, server, free_port, work = (
        ctx.results, ctx.pg, ctx.redis_port, ctx.server, ctx.free_port, ctx.work)
    database = f"tenk_tls_{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "PORT": str(port), "LOG_FORMAT": "text",
           "LOG_LEVEL": "warn,tenk_server=info", "WORKERS": "1", "DB_CONNECT_TIMEOUT": "5",
           "DATABASE_URL": f"postgres://postgres@{host}:{pg.port}/{database}{query}",
           "REDIS_URL": f"redis://127.0.0.1:{redis_port}", "REDIS_KEY_PREFIX": f"tls:{database}:",
           "DB_SSL_MODE": mode}
    log_path = os.path.join(work, f"{database}.log")
    outcome, handle = start(server, env, log_path)
    with open(log_path) as f:
        log = f.read()
    name = f"[DB_SSL_MODE] {label}"
    if expect == "refused":
        results.check(f"{name}: refuses to start, saying why ({cause})",
                      outcome == "exit" and handle != 0 and cause.lower() in log.lower(),
                      f"{outcome} {handle}: {log[-400:]}")
        exists = pg.query("postgres", f"select count(*) from pg_database where datname = '{database}'")
        results.check(f"{name}: nothing was created on the way", exists.strip() == "0")
        return
    ok = outcome == "ready"
    tls, total = encrypted(pg, database) if ok else (0, 0)
    want = total if expect == "tls" else 0
    results.check(f"{name}: starts, {'every' if expect == 'tls' else 'no'} connection encrypted "
                  f"({tls} of {total})", ok and total > 0 and tls == want, f"{outcome}: {log[-400:]}")
    if ok:
        handle.terminate()
        handle.wait(timeout=20)


def run(results, pg, certificates, redis_port, server, free_port):
    """Runs the cases against `pg` (a tenkops `Cluster` running with
    `certificates`), first with TLS, then without; `pg` is left without."""
    ctx = Context(results, pg, redis_port, server, free_port, certificates.dir)
    root = f"?sslrootcert={certificates.ca}"
    case(ctx, "disable, server with TLS", "disable", "plain")
    case(ctx, "prefer, server with TLS", "prefer", "tls")
    case(ctx, "require, unknown CA", "require", "tls")
    case(ctx, "verify-ca, CA not given", "verify-ca", "refused", cause="certificate")
    case(ctx, "verify-full, CA not given", "verify-full", "refused", cause="certificate")
    case(ctx, "verify-full, sslrootcert naming a missing file", "verify-full", "refused",
         query=f"?sslrootcert={certificates.dir}/missing.pem", cause="sslrootcert")
    case(ctx, "verify-ca, CA given, host not in the certificate", "verify-ca", "tls", query=root)
    case(ctx, "verify-full, CA given, host not in the certificate", "verify-full", "refused", query=root,
         cause="certificate")
    case(ctx, "verify-full, CA given, host in the certificate", "verify-full", "tls", host="localhost", query=root)
    case(ctx, "an sslmode in the URL wins over DB_SSL_MODE", "verify-full", "plain", query="?sslmode=disable")

    # The same cluster without TLS (initdb's default).
    pg.stop("fast")
    pg.extra = ""
    pg.start()
    case(ctx, "disable, server without TLS", "disable", "plain")
    case(ctx, "prefer, server without TLS", "prefer", "plain")
    case(ctx, "require, server without TLS", "require", "refused", cause="TLS")
    case(ctx, "verify-full, server without TLS", "verify-full", "refused", cause="TLS")


def main():
    """Only these cases, on a cluster and a Redis of their own."""
    from suite import SERVER, Cleanup, Cluster, Redis, Results, free_port
    results = Results("DB_SSL_MODE")
    with Cleanup() as cleanup:
        certificates = Certificates(cleanup)
        pg, redis = Cluster(cleanup, certificates.server_options), Redis(cleanup)
        run(results, pg, certificates, redis.port, SERVER, free_port)
    return results.finish()


if __name__ == "__main__":
    raise SystemExit(main())
