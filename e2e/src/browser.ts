// Debian's Chromium driven by playwright-core (no browser download on these machines).
// playwright gives every launch a fresh, empty profile of its own.
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = process.env.MERIDIAN_CHROMIUM ?? "/usr/bin/chromium";

export async function launchBrowser(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return { browser, close: () => browser.close() };
}
