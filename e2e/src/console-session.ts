// One browser test's world: the console's production build running on a fresh seeded PostgreSQL
// database, an API client signed in as the seeded admin, and Debian's Chromium with a context
// signed in as that admin. Every page test starts from it and ends with close(), which stops the
// console, the browser and drops the database even when the test failed.
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { MeridianClient } from "@meridian/api";
import { seedDatabase } from "@meridian/api/seed";
import { createTestDatabase, type TestDatabase } from "@meridian/db/testing";
import type { Browser, BrowserContext } from "playwright-core";
import { launchBrowser } from "./browser";
import { buildConsole, type RunningConsole, repoRoot, startConsole } from "./console";
import { signIn, userClient } from "./session";

/** Where browser tests save their screenshots. */
export const artifacts = path.join(repoRoot, "e2e", "artifacts");

export interface ConsoleSession {
  db: TestDatabase;
  app: RunningConsole;
  seeded: Awaited<ReturnType<typeof seedDatabase>>;
  /** The seeded admin, through the API as automation would call it. */
  admin: MeridianClient;
  browser: Browser;
  /** A browser context signed in as the seeded admin. */
  ctx: BrowserContext;
  close(): Promise<void>;
}

export async function openConsole(): Promise<ConsoleSession> {
  mkdirSync(artifacts, { recursive: true });
  buildConsole();
  const db = await createTestDatabase();
  let app: RunningConsole | undefined;
  let closeBrowser: (() => Promise<void>) | undefined;
  const stopAll = async (running: RunningConsole | undefined) => {
    await closeBrowser?.();
    await running?.stop();
    await db.drop();
  };
  try {
    const seeded = await seedDatabase(db.prisma);
    app = await startConsole(db.url);
    const admin = await userClient(app.url, seeded.adminEmail, seeded.adminPassword!);
    const launched = await launchBrowser();
    closeBrowser = launched.close;
    const ctx = await signIn(launched.browser, app.url, seeded.adminEmail, seeded.adminPassword!);
    const session: ConsoleSession = {
      db,
      app,
      seeded,
      admin,
      browser: launched.browser,
      ctx,
      // The console running now: a test that restarts it sets session.app to the new one.
      close: () => stopAll(session.app),
    };
    return session;
  } catch (err) {
    await stopAll(app).catch(() => undefined);
    throw err;
  }
}
