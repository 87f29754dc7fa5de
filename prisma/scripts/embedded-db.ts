// Runs the embedded database until SIGINT/SIGTERM: tsx scripts/embedded-db.ts DATA_DIR PORT
// [--stop-on-stdin-close]. The last line on stderr says why it could not start.
//
// With --stop-on-stdin-close it also stops when its stdin closes: `npm start` holds the other end,
// so a killed `npm start` does not leave the database running and holding its files and port.
import { startEmbeddedDatabase } from "../src/embedded";

const args = process.argv.slice(2);
const [dataDir = ".meridian/pglite", port = "5488"] = args.filter((a) => !a.startsWith("--"));

let db: Awaited<ReturnType<typeof startEmbeddedDatabase>>;
try {
  db = await startEmbeddedDatabase({ dataDir, port: Number(port) });
} catch (err) {
  console.error((err as Error).stack);
  console.error((err as Error).message);
  process.exit(1);
}
console.log(`embedded database ready at ${db.url}`);

let stopping = false;
function stop(why: string) {
  if (stopping) return;
  stopping = true;
  console.log(`stopping (${why})`);
  // PGlite can linger for seconds after close(): exit as soon as its files are closed.
  db.stop().finally(() => process.exit(0));
}
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => stop(sig));
if (args.includes("--stop-on-stdin-close")) {
  // Our output went to npm start too: writing to it now must not crash us before the files are closed.
  for (const out of [process.stdout, process.stderr]) out.on("error", () => {});
  process.stdin.on("end", () => stop("stdin closed"));
  process.stdin.resume();
}
