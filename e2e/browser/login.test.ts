import { mkdirSync } from "node:fs";
import path from "node:path";
import { seedDatabase } from "@meridian/api/seed";
import { createTestDatabase, type TestDatabase } from "@meridian/db/testing";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "../src/browser";
import { buildConsole, type RunningConsole, repoRoot, startConsole } from "../src/console";

const artifacts = path.join(repoRoot, "e2e", "artifacts");

describe("console sign-in (production build, real PostgreSQL, Debian Chromium)", () => {
  let db: TestDatabase;
  let app: RunningConsole;
  let browser: Browser;
  let closeBrowser: () => Promise<void>;
  let admin: { adminEmail: string; adminPassword: string | null };

  beforeAll(async () => {
    mkdirSync(artifacts, { recursive: true });
    buildConsole();
    db = await createTestDatabase();
    admin = await seedDatabase(db.prisma);
    app = await startConsole(db.url);
    ({ browser, close: closeBrowser } = await launchBrowser());
  }, 600_000);

  afterAll(async () => {
    await closeBrowser?.();
    await app?.stop();
    await db?.drop();
  });

  it("sends a visitor without a session to the sign-in page", async () => {
    const page = await browser.newPage();
    await page.goto(app.url);
    await expect.poll(() => page.url()).toMatch(/\/login/);
    expect(await page.getByRole("heading", { name: /Meridian/ }).isVisible()).toBe(true);
    await page.close();
  });

  it("refuses a wrong password and says so", async () => {
    const page = await browser.newPage();
    await page.goto(`${app.url}/login`);
    await page.getByLabel("Email").fill(admin.adminEmail);
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    // Next.js adds its own (empty) role="alert" route announcer; the sign-in error is the one with text.
    const alert = page.getByRole("alert").filter({ hasText: /\S/ });
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/email or password/i);
    await page.close();
  });

  it("signs the seeded admin in and shows the overview", async () => {
    expect(admin.adminPassword).toBeTruthy();
    const page = await browser.newPage();
    await page.goto(`${app.url}/login`);
    await page.getByLabel("Email").fill(admin.adminEmail);
    await page.getByLabel("Password").fill(admin.adminPassword!);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    expect(await page.textContent("header")).toContain(admin.adminEmail);
    await page.screenshot({ path: path.join(artifacts, "overview.png"), fullPage: true });
    await page.close();
  });
});
