#!/usr/bin/env node
// The console for `npm start`: Next's production server run in this process (a custom server)
// instead of `next start`, so that stopping it can end open connections. `next start` waits on
// SIGTERM until every connection has finished, and the agents' and browsers' event streams (SSE)
// never finish by themselves: next-server stayed alive, orphaned, after Ctrl-C.
//
//   node scripts/console-server.mjs --port 3000 [--dir apps/web] [--stop-on-stdin-close]
//
// Stops on SIGTERM, SIGINT, or (with --stop-on-stdin-close) when its stdin closes, i.e. the
// `npm start` that started it is gone: event streams are closed at once, other requests get
// SHUTDOWN_GRACE_MS to finish.
import http from "node:http";
import path from "node:path";
import { parseArgs } from "node:util";
import next from "next";

const SHUTDOWN_GRACE_MS = 2_000;

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "3000" },
    dir: { type: "string", default: path.resolve(import.meta.dirname, "..", "apps", "web") },
    "stop-on-stdin-close": { type: "boolean", default: false },
  },
});
const port = Number(values.port);

const app = next({ dev: false, dir: values.dir, port });
const handle = app.getRequestHandler();
await app.prepare();

/** Responses in flight, so shutdown can tell event streams from ordinary requests. */
const inFlight = new Set();
const server = http.createServer((req, res) => {
  inFlight.add(res);
  res.on("close", () => inFlight.delete(res));
  handle(req, res);
});

server.on("error", (err) => {
  console.error(
    err.code === "EADDRINUSE"
      ? `port ${port} is already in use by another program (choose another with --port)`
      : `the console's server failed: ${err.message}`,
  );
  process.exit(1);
});
server.listen(port, () => console.log(`console ready on port ${port}`));

let stopping = false;
async function shutdown(why) {
  if (stopping) return;
  stopping = true;
  console.log(`stopping (${why}): closing ${inFlight.size} open request(s)`);
  server.close();
  server.closeIdleConnections();
  for (const res of inFlight) {
    if (String(res.getHeader("content-type") ?? "").startsWith("text/event-stream")) res.destroy();
  }
  const hard = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
  hard.unref();
  await Promise.race([app.close(), new Promise((r) => setTimeout(r, SHUTDOWN_GRACE_MS + 500))]).catch((err) =>
    console.error(`closing Next: ${err.message}`),
  );
  process.exit(0);
}

for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => void shutdown(sig));
if (values["stop-on-stdin-close"]) {
  // Our output went to npm start too: writing to it now must not crash the shutdown.
  for (const out of [process.stdout, process.stderr]) out.on("error", () => {});
  process.stdin.on("end", () => void shutdown("stdin closed"));
  process.stdin.resume();
}
