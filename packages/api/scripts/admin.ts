// `npm run admin -- reset-password [--email admin@meridian.local]`: sets a new random password
// for a user of the database npm start uses (DATABASE_URL, or the embedded one in the state
// folder), prints it and keeps it for that database in admin-credentials.json.
//
// The embedded database is one process's files: if npm start is serving it, this connects to that
// server; otherwise it opens the files itself for the moment it needs them.
import { existsSync } from "node:fs";
import net from "node:net";
import { parseArgs } from "node:util";
import { createPrismaClient } from "@meridian/db";
import { embeddedDataDir, runningEmbeddedDatabase, startEmbeddedDatabase } from "@meridian/db/embedded";
import { DEFAULT_ADMIN_EMAIL, resetPassword } from "../src/seed";
import { credentialsFile, databaseIdentity, saveCredentials, shortPath } from "./admin-credentials";

const USAGE = `usage: npm run admin -- reset-password [--email ${DEFAULT_ADMIN_EMAIL}]
  reset-password   set a new random password (and enable the account), print it and keep it
                   for this database in the state folder's admin-credentials.json
  The database is DATABASE_URL's, or npm start's embedded one (MERIDIAN_START_STATE_DIR, default .meridian).
`;

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/** The database's URL, and how to let it go again. */
async function openDatabase(): Promise<{ url: string; close(): Promise<void> }> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, close: async () => {} };
  const dataDir = embeddedDataDir();
  const running = runningEmbeddedDatabase(dataDir);
  if (running) return { url: running.url, close: async () => {} };
  if (!existsSync(dataDir))
    throw new Error(`there is no embedded database in ${dataDir} yet: run npm start first`);
  const db = await startEmbeddedDatabase({ dataDir, port: await freePort() });
  return { url: db.url, close: () => db.stop() };
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { email: { type: "string", default: DEFAULT_ADMIN_EMAIL } },
  });
  if (positionals[0] !== "reset-password") {
    process.stdout.write(USAGE);
    return positionals.length ? 2 : 0;
  }
  const email = values.email.trim().toLowerCase();
  const database = await openDatabase();
  const db = createPrismaClient(database.url, { max: 2 });
  try {
    const id = await databaseIdentity(db, database.url);
    const r = await resetPassword(db, email);
    const file = credentialsFile();
    saveCredentials(file, id, { email: r.email, password: r.password });
    console.log(
      `admin: new password for ${r.email} in ${id.label}: ${r.password}${
        r.wasDisabled ? " (the account was disabled; it is enabled again)" : ""
      }`,
    );
    console.log(`admin: kept in ${shortPath(file)}; the user's open sessions have ended`);
    return 0;
  } finally {
    await db.$disconnect();
    await database.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`admin: ${(err as Error).message}`);
    process.exit(1);
  },
);
