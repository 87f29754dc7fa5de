// `tsx packages/api/scripts/seed.ts [--json]`: seeds DATABASE_URL (or the embedded database) and
// says how to sign in to it: the admin's password when it was created now or when this state
// folder kept it for this database (admin-credentials.json, see admin-credentials.ts), or that it
// is not known here and how to set a new one. --json prints that as one JSON line, for npm start.
import { createPrismaClient, databaseUrlFromEnv } from "@meridian/db";
import { seedDatabase } from "../src/seed";
import {
  credentialsFile,
  databaseIdentity,
  knownPassword,
  saveCredentials,
  shortPath,
} from "./admin-credentials";

export type SeedReport =
  | { status: "created" | "known"; email: string; password: string; database: string; file: string }
  | { status: "unknown"; email: string; why: string; database: string; file: string };

const WHY: Record<string, string> = {
  wrong: "the password kept for this database no longer signs in (changed since it was saved?)",
  "not saved": "this state folder has no password for this database (it was seeded elsewhere)",
  disabled: "the account is disabled",
  "no such user": "the account does not exist",
};

const json = process.argv.includes("--json");
const url = databaseUrlFromEnv();
const file = credentialsFile();
const db = createPrismaClient(url, { max: 2 });
try {
  const id = await databaseIdentity(db, url);
  const { adminEmail: email, adminPassword } = await seedDatabase(db);
  const base = { email, database: id.label, file };
  let report: SeedReport;
  if (adminPassword) {
    saveCredentials(file, id, { email, password: adminPassword });
    report = { ...base, status: "created", password: adminPassword };
  } else {
    const known = await knownPassword(db, file, id, email);
    report =
      "password" in known
        ? { ...base, status: "known", password: known.password }
        : { ...base, status: "unknown", why: WHY[known.unknown] ?? known.unknown };
  }
  if (json) console.log(JSON.stringify(report));
  else {
    const where = shortPath(file);
    if (report.status === "unknown")
      console.log(
        `seed: ${email} exists in ${report.database}, but its password is not known: ${report.why}. Set a new one with: npm run admin -- reset-password`,
      );
    else
      console.log(
        `seed: ${report.status === "created" ? "created" : "sign in as"} ${email} with password ${report.password} (kept in ${where})`,
      );
  }
} catch (err) {
  console.error((err as Error).stack);
  console.error(`seed: ${(err as Error).message.split("\n")[0]}`);
  process.exitCode = 1;
} finally {
  await db.$disconnect();
}
