// Runs the embedded database until SIGINT/SIGTERM: tsx scripts/embedded-db.ts DATA_DIR PORT
import { startEmbeddedDatabase } from "../src/embedded";

const [dataDir = ".meridian/pglite", port = "5488"] = process.argv.slice(2);
const db = await startEmbeddedDatabase({ dataDir, port: Number(port) });
console.log(`embedded database ready at ${db.url}`);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    db.stop().finally(() => process.exit(0));
  });
}
