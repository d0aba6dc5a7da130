// Starts PEER_WORKERS copies of server.ts (default: one per core) sharing
// PORT through SO_REUSEPORT, the seed's CLUSTER_MODE. Stops them all on
// SIGTERM/SIGINT, and exits when any of them exits.
import { availableParallelism } from "node:os";

const count = Number(process.env.PEER_WORKERS ?? availableParallelism());
const here = new URL(".", import.meta.url).pathname;
const workers = Array.from({ length: count }, (_, i) =>
  Bun.spawn({
    cmd: [process.execPath, `${here}server.ts`],
    env: { ...process.env, WORKER_INDEX: String(i) },
    stdout: "inherit",
    stderr: "inherit",
  }),
);
const stop = () => {
  for (const w of workers) w.kill("SIGTERM");
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
await Promise.race(workers.map((w) => w.exited));
stop();
await Promise.all(workers.map((w) => w.exited));
process.exit(0);
