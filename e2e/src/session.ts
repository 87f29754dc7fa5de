// What browser tests share: signing in a browser context, API clients for the admin and for a
// joined node (the agent channel over HTTP, as a real agent uses it), and axe-core checks.
import { createRequire } from "node:module";
import { createMeridianClient, type MeridianClient } from "@meridian/api";
import type { Browser, BrowserContext, Page } from "playwright-core";

export async function signIn(
  browser: Browser,
  url: string,
  email: string,
  password: string,
): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  context.setDefaultTimeout(15_000);
  // Script errors in the page are test failures waiting to be explained: show them.
  context.on("weberror", (e) => console.error(`page error: ${e.error().message}`));
  const page = await context.newPage();
  await page.goto(`${url}/login`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  await page.close();
  return context;
}

/** A client with a user's session as its bearer credential. */
export async function userClient(url: string, email: string, password: string): Promise<MeridianClient> {
  const r = await createMeridianClient({ url }).auth.login.mutate({ email, password });
  return createMeridianClient({ url, token: r.sessionToken });
}

/**
 * Registers a node as an admin does (its labels are the admin's to set, never the agent's), then
 * joins it with a one-time join token and returns the agent's client (node credential).
 */
export async function joinNode(
  admin: MeridianClient,
  url: string,
  node: { name: string; podCIDR: string; labels?: Record<string, string> },
): Promise<MeridianClient> {
  if (node.labels && Object.keys(node.labels).length > 0) {
    await admin.nodes.create.mutate({ name: node.name, labels: node.labels, podCIDRs: [node.podCIDR] });
  }
  const jt = await admin.joinTokens.create.mutate({ nodeName: node.name });
  const joined = await createMeridianClient({ url }).agent.join.mutate({
    token: jt.secret,
    nodeName: node.name,
    podCIDRs: [node.podCIDR],
    agentVersion: "0.1.0-e2e",
  });
  return createMeridianClient({ url, token: joined.credential });
}

const axeSource: string = (createRequire(import.meta.url)("axe-core") as { source: string }).source;

/** Serious and critical axe-core violations on the page, as readable lines. */
export async function axeProblems(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the console's CSP does not govern; a script
  // tag added to the page would be an inline script without the nonce, and be refused.
  await page.evaluate(axeSource);
  const result = (await page.evaluate("axe.run().then((r) => r.violations)")) as AxeViolation[];
  return result
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}
