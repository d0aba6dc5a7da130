// tenk's hot path in the seed's own stack: Hono on Bun, ioredis, jose and
// postgres.js. One worker process; cluster.ts starts one per core on a
// shared port (reusePort), as the seed's CLUSTER_MODE does.
//
// Routes: GET /api/users/me and GET /api/posts (JWT verify -> Redis session
// check -> PostgreSQL read), GET /api/health. It serves tenk's accounts:
// same database, same Redis keys, same JWT secret, issuer and audience, so
// a token from tenk's login works here and both do the same work per
// request. The session check runs tenk's own Lua script (read the session,
// slide its idle deadline). With APP_CACHE=true, session checks (10 s),
// profiles (60 s) and the post page (30 s) are cached in process like
// tenk's app cache, but without tenk's cross-instance invalidation.
//
// Metrics for tenk-loadtest on METRICS_PORT + WORKER_INDEX (one listener per
// worker, so the load test can add the workers up).
import { Hono } from "hono";
import Redis from "ioredis";
import { jwtVerify } from "jose";
import postgres from "postgres";

const env = process.env;
const port = Number(env.PORT ?? 3000);
const worker = Number(env.WORKER_INDEX ?? 0);
const metricsPort = Number(env.METRICS_PORT ?? 9300) + worker;
const prefix = env.REDIS_KEY_PREFIX ?? "tenk:";
const idleMs = Number(env.SESSION_IDLE_TIMEOUT_MS ?? 30 * 60 * 1000);
const opsToken = env.OPS_TOKEN ?? "";
const useCache = env.APP_CACHE === "true";
const cacheSize = Number(env.APP_CACHE_SIZE ?? 10000);
const secret = new TextEncoder().encode(
  env.JWT_SECRET ?? "tenk-development-only-jwt-secret-do-not-use-in-production",
);
const verifyOptions = {
  algorithms: ["HS256"],
  issuer: env.JWT_ISSUER ?? "tenk",
  audience: env.JWT_AUDIENCE ?? "tenk-api",
  clockTolerance: 5,
  requiredClaims: ["exp", "nbf", "iss", "aud", "sub"],
};

const sql = postgres(env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/tenk", {
  max: Number(env.DB_POOL_MAX ?? 10),
  idle_timeout: 20,
  connect_timeout: 10,
});
const redis = new Redis({
  host: env.REDIS_HOST ?? "127.0.0.1",
  port: Number(env.REDIS_PORT ?? 6379),
  enableAutoPipelining: true,
  keepAlive: 30000,
  commandTimeout: 2000,
  connectTimeout: 5000,
});

// tenk's TOUCH script (server/src/auth/sessions.rs), verbatim.
redis.defineCommand("touchSession", {
  numberOfKeys: 2,
  lua: `
local f = redis.call('HMGET', KEYS[1], 'uid', 'role', 'exp')
if not f[1] then return false end
local now = tonumber(ARGV[1])
local ends = tonumber(f[3])
if ends <= now then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[3])
  return false
end
local idle_until = math.min(now + tonumber(ARGV[2]), ends)
redis.call('HSET', KEYS[1], 'seen', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], idle_until)
redis.call('ZADD', KEYS[2], idle_until, ARGV[3])
return {f[1], f[2], f[3]}
`,
});

// A bounded map with per-entry expiry; the oldest entry goes when full.
class TtlCache<V> {
  private entries = new Map<string, { value: V; until: number }>();
  constructor(private ttlMs: number) {}
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until < Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }
  set(key: string, value: V) {
    if (this.entries.size >= cacheSize) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, until: Date.now() + this.ttlMs });
  }
}
const sessionCache = new TtlCache<{ uid: string; exp: number }>(10_000);
const profileCache = new TtlCache<object>(60_000);
const pageCache = new TtlCache<object>(30_000);

// The session-lookup histogram, with tenk's buckets and name.
const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10];
const lookups: Record<string, { counts: number[]; sum: number; count: number }> = {
  hit: { counts: buckets.map(() => 0), sum: 0, count: 0 },
  miss: { counts: buckets.map(() => 0), sum: 0, count: 0 },
};
function observe(cache: "hit" | "miss", seconds: number) {
  const h = lookups[cache];
  h.count += 1;
  h.sum += seconds;
  buckets.forEach((le, i) => {
    if (seconds <= le) h.counts[i] += 1;
  });
}

function problem(status: number, code: string) {
  return new Response(JSON.stringify({ status, code, title: code }), {
    status,
    headers: { "content-type": "application/problem+json" },
  });
}

async function sessionOk(sid: string, sub: string): Promise<boolean> {
  const started = performance.now();
  if (useCache) {
    const cached = sessionCache.get(sid);
    if (cached) {
      observe("hit", (performance.now() - started) / 1000);
      return cached.uid === sub && cached.exp > Date.now();
    }
  }
  // @ts-ignore: defined above with defineCommand
  const fields = await redis.touchSession(
    `${prefix}session:${sid}`,
    `${prefix}sessions_by_expiry`,
    Date.now(),
    idleMs,
    sid,
  );
  observe("miss", (performance.now() - started) / 1000);
  if (!fields) return false;
  const [uid, , exp] = fields as string[];
  if (useCache) sessionCache.set(sid, { uid, exp: Number(exp) });
  return uid === sub;
}

type Vars = { Variables: { userId: string } };
const app = new Hono<Vars>();

app.get("/api/health", (c) => c.json({ status: "ok", worker }));

app.use("/api/users/*", auth);
app.use("/api/posts", auth);
async function auth(c: any, next: () => Promise<void>) {
  const header = c.req.header("authorization") ?? "";
  if (!header.startsWith("Bearer ")) return problem(401, "unauthorized");
  let payload;
  try {
    ({ payload } = await jwtVerify(header.slice(7), secret, verifyOptions));
  } catch {
    return problem(401, "unauthorized");
  }
  if (payload.typ !== "access" || typeof payload.sid !== "string" || !payload.sub) {
    return problem(401, "unauthorized");
  }
  if (!(await sessionOk(payload.sid, payload.sub))) return problem(401, "unauthorized");
  c.set("userId", payload.sub);
  await next();
}

app.get("/api/users/me", async (c) => {
  const userId = c.get("userId");
  const cached = useCache ? profileCache.get(userId) : undefined;
  if (cached) return c.json(cached);
  const [row] = await sql`
    select user_id, email, name, role, status, created_at, last_login_at, email_verified_at
    from users where user_id = ${userId}`;
  if (!row) return problem(401, "unauthorized");
  const profile = {
    id: row.user_id,
    email: row.email,
    name: row.name,
    role: row.role,
    status: row.status,
    created_at: row.created_at,
    last_login_at: row.last_login_at,
    email_verified: row.email_verified_at !== null,
  };
  if (useCache) profileCache.set(userId, profile);
  return c.json(profile);
});

app.get("/api/posts", async (c) => {
  const cached = useCache ? pageCache.get("first") : undefined;
  if (cached) return c.json(cached);
  const rows = await sql`
    select post_id, author_id, title, body, created_at, updated_at from posts
    order by created_at desc, post_id desc limit 51`;
  const items = rows.slice(0, 50).map((r) => ({
    id: r.post_id,
    author_id: r.author_id,
    title: r.title,
    body: r.body,
    created_at: r.created_at,
    updated_at: r.updated_at,
  }));
  const last = rows.length > 50 ? rows[49] : undefined;
  const next_cursor = last
    ? Buffer.from(`${last.created_at.getTime() * 1e6}|${last.post_id}`).toString("base64url")
    : null;
  const page = { items, next_cursor };
  if (useCache) pageCache.set("first", page);
  return c.json(page);
});

app.notFound(() => problem(404, "not_found"));

function metrics(): string {
  const cpu = process.cpuUsage();
  const lines = [
    "# TYPE process_resident_memory_bytes gauge",
    `process_resident_memory_bytes ${process.memoryUsage().rss}`,
    "# TYPE process_cpu_seconds_total counter",
    `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
    "# TYPE tenk_session_lookup_duration_seconds histogram",
  ];
  for (const [cache, h] of Object.entries(lookups)) {
    buckets.forEach((le, i) => {
      lines.push(`tenk_session_lookup_duration_seconds_bucket{cache="${cache}",le="${le}"} ${h.counts[i]}`);
    });
    lines.push(`tenk_session_lookup_duration_seconds_bucket{cache="${cache}",le="+Inf"} ${h.count}`);
    lines.push(`tenk_session_lookup_duration_seconds_sum{cache="${cache}"} ${h.sum}`);
    lines.push(`tenk_session_lookup_duration_seconds_count{cache="${cache}"} ${h.count}`);
  }
  return lines.join("\n") + "\n";
}

Bun.serve({ port, hostname: "127.0.0.1", reusePort: true, fetch: app.fetch });
Bun.serve({
  port: metricsPort,
  hostname: "127.0.0.1",
  fetch(request) {
    if (opsToken && request.headers.get("authorization") !== `Bearer ${opsToken}`) {
      return problem(401, "unauthorized");
    }
    return new Response(metrics(), { headers: { "content-type": "text/plain; version=0.0.4" } });
  },
});
console.log(`peer worker ${worker}: api on ${port}, metrics on ${metricsPort}`);
