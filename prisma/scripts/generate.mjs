// `prisma generate` offline: the CLI looks for a schema engine before it runs, which it would
// download; prisma.config.ts points it at engine/refuse-engine.mjs (which fails loudly if ever
// called — generation itself never needs it). Migrations go through `npm run db` instead.
import { execFileSync } from "node:child_process";
import path from "node:path";

execFileSync(
  process.execPath,
  [path.join(import.meta.dirname, "..", "..", "node_modules", "prisma", "build", "index.js"), "generate"],
  {
    cwd: path.join(import.meta.dirname, ".."),
    stdio: "inherit",
    env: { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: "1", CHECKPOINT_DISABLE: "1" },
  },
);
