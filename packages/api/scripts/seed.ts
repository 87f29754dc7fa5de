// `tsx packages/api/scripts/seed.ts`: seeds DATABASE_URL and prints the admin credentials
// (also written to .meridian/admin-credentials.txt, mode 0600) when the admin was created now.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createPrismaClient, databaseUrlFromEnv } from "@meridian/db";
import { seedDatabase } from "../src/seed";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const db = createPrismaClient(databaseUrlFromEnv(), { max: 2 });
try {
  const { adminEmail, adminPassword } = await seedDatabase(db);
  if (adminPassword) {
    const dir = path.join(repoRoot, ".meridian");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "admin-credentials.txt");
    writeFileSync(file, `email: ${adminEmail}\npassword: ${adminPassword}\n`, { mode: 0o600 });
    console.log(
      `seed: created admin ${adminEmail} with password ${adminPassword} (saved to ${path.relative(process.cwd(), file)})`,
    );
  } else {
    console.log(`seed: admin ${adminEmail} already exists; password unchanged`);
  }
} finally {
  await db.$disconnect();
}
