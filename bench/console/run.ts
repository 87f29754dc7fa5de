// Console at size: first render of the main pages and one interaction each, with 1,000 nodes,
// 10,000 endpoints, 2,000 policies and 5,000 BGP peers, as a ratio against the same pages on the
// small seeded model measured in this same run; then, at size, scrolling the 10,000-endpoint
// virtualised list: time to the last row and frame times while scrolling.
//
//   DATABASE_URL=postgresql://postgres@127.0.0.1:5439/postgres npx tsx bench/console/run.ts
//
// Needs the production build (`npx turbo run build --filter=@meridian/web`) and Debian's Chromium.
import { seedDatabase } from "@meridian/api/seed";
import { createTestDatabase, type TestDatabase } from "@meridian/db/testing";
import type { Browser, Page } from "playwright-core";
import { launchBrowser } from "../../e2e/src/browser";
import { startConsole } from "../../e2e/src/console";
import { signIn } from "../../e2e/src/session";

const SIZE = { nodes: 1000, endpoints: 10_000, policies: 2000, peers: 5000 };
const RUNS = 3;

async function seedAtSize(db: TestDatabase) {
  const p = db.prisma;
  const now = new Date();
  await p.node.createMany({
    data: Array.from({ length: SIZE.nodes }, (_, i) => ({
      name: `node-${String(i).padStart(4, "0")}`,
      labels: { rack: `r${i % 40}`, "meridian.io/bgp": "enabled" },
      addresses: [`192.168.${Math.floor(i / 250)}.${(i % 250) + 1}`],
      podCIDRv4: [`10.${Math.floor(i / 256)}.${i % 256}.0/24`],
      podCIDRv6: [],
      joinState: "joined" as const,
      agentVersion: "0.1.0",
      appliedRevision: i % 10 === 0 ? 0 : 2,
      lastHeartbeatAt: i % 50 === 0 ? new Date(now.getTime() - 600_000) : now,
    })),
  });
  const nodes = await p.node.findMany({ select: { id: true }, orderBy: { name: "asc" } });
  const apps = Array.from({ length: 100 }, (_, i) => `app-${i}`);
  await p.identity.createMany({
    data: apps.map((a, i) => ({
      number: 100_000 + i,
      labelsKey: `app=${a}`,
      labels: { app: a },
    })),
  });
  await p.endpoint.createMany({
    data: Array.from({ length: SIZE.endpoints }, (_, i) => ({
      nodeId: nodes[i % nodes.length]!.id,
      namespace: `ns-${i % 20}`,
      name: `pod-${i}`,
      labels: { app: apps[i % apps.length]! },
      ipv4: `10.${Math.floor((i % SIZE.nodes) / 256)}.${(i % SIZE.nodes) % 256}.${Math.floor(i / SIZE.nodes) + 2}`,
      identityNumber: 100_000 + (i % apps.length),
    })),
  });
  await p.networkPolicy.createMany({
    data: Array.from({ length: SIZE.policies }, (_, i) => ({
      namespace: `ns-${i % 20}`,
      name: `policy-${i}`,
      spec: {
        endpointSelector: { matchLabels: { app: apps[i % apps.length] } },
        ingress: [
          {
            fromEndpoints: [{ matchLabels: { app: apps[(i + 1) % apps.length] } }],
            toPorts: [{ ports: [{ port: "8080", protocol: "TCP" }] }],
          },
        ],
      },
    })),
  });
  await p.bgpPeer.createMany({
    data: Array.from({ length: SIZE.peers }, (_, i) => ({
      name: `peer-${i}`,
      instanceName: "tor",
      spec: {
        instance: "tor",
        address: `172.${16 + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`,
        peerASN: 65000 + (i % 500),
        port: 179,
        holdTimeSeconds: 90,
        connectRetrySeconds: 120,
        families: ["ipv4-unicast"],
        labels: {},
      },
    })),
  });
}

interface Step {
  name: string;
  path: string;
  /** An interaction on the loaded page; resolves when its result is on screen. */
  interact?: (page: Page) => Promise<void>;
}

const STEPS: Step[] = [
  { name: "overview", path: "/" },
  {
    name: "nodes",
    path: "/nodes",
    interact: async (page) => {
      await page.getByLabel("Health").selectOption("down");
      await Promise.all([
        page.waitForURL(/health=down/),
        page.getByRole("button", { name: "Filter" }).click(),
      ]);
      await page.locator("table.grid tbody tr").first().waitFor();
    },
  },
  {
    name: "endpoints",
    path: "/endpoints",
    interact: async (page) => {
      await page.getByLabel("Namespace").fill("ns-3");
      await Promise.all([
        page.waitForURL(/namespace=ns-3/),
        page.getByRole("button", { name: "Filter" }).click(),
      ]);
      await page.locator("table.grid tbody tr").first().waitFor();
    },
  },
  {
    name: "policies",
    path: "/policies",
    interact: async (page) => {
      await page.getByLabel("Name contains").fill("policy-19");
      await Promise.all([
        page.waitForURL(/q=policy-19/),
        page.getByRole("button", { name: "Filter" }).click(),
      ]);
      await page.locator("table.grid tbody tr").first().waitFor();
    },
  },
  { name: "bgp", path: "/bgp" },
  { name: "noc", path: "/noc" },
];

interface ScrollFigures {
  /** From scrolling to the bottom of the page to the last row drawn with its data (median of RUNS). */
  toEndMs: number;
  frames: number;
  p50: number;
  p95: number;
  max: number;
  /** Frames slower than 50 ms (a visible stutter). */
  slow: number;
  /** Frames in which a row in view was still waiting for its page from the server. */
  waiting: number;
  rowsPassed: number;
}

// Page code as a string: bench compiles without the DOM types. Scrolls down by a fixed step each
// animation frame for `ms`, recording every frame's duration and whether a row in view was still
// loading.
const SCROLL_SCRIPT = (ms: number, step: number) => `new Promise((resolve) => {
  const frames = [];
  let waiting = 0;
  let last = performance.now();
  const t0 = last;
  const firstRow = () => Number(document.elementFromPoint(innerWidth / 2, innerHeight / 2)?.closest("tr[aria-rowindex]")?.getAttribute("aria-rowindex") ?? 0);
  const startRow = firstRow();
  function tick(now) {
    frames.push(now - last);
    last = now;
    const busy = [...document.querySelectorAll("tr[aria-busy]")].some((r) => {
      const b = r.getBoundingClientRect();
      return b.bottom > 0 && b.top < innerHeight;
    });
    if (busy) waiting += 1;
    if (now - t0 >= ${ms}) return resolve({ frames, waiting, rowsPassed: firstRow() - startRow });
    window.scrollBy(0, ${step});
    requestAnimationFrame(tick);
  }
  requestAnimationFrame((now) => { last = now; requestAnimationFrame(tick); });
})`;

async function measureScroll(page: Page, url: string): Promise<ScrollFigures> {
  const toEnd: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    await page.goto(`${url}/endpoints`, { waitUntil: "load" });
    await page.locator('tr[aria-rowindex="2"]:not([aria-busy])').waitFor();
    const t0 = performance.now();
    await page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)");
    await page.locator(`tr[aria-rowindex="${SIZE.endpoints + 1}"]:not([aria-busy])`).waitFor();
    toEnd.push(performance.now() - t0);
  }
  await page.goto(`${url}/endpoints`, { waitUntil: "load" });
  await page.locator('tr[aria-rowindex="2"]:not([aria-busy])').waitFor();
  // 3 s at 40 px a frame: about 2,400 px/s, a brisk mouse-wheel scroll.
  const r = (await page.evaluate(SCROLL_SCRIPT(3000, 40))) as {
    frames: number[];
    waiting: number;
    rowsPassed: number;
  };
  const f = [...r.frames].sort((a, b) => a - b);
  const q = (p: number) => f[Math.min(f.length - 1, Math.floor(f.length * p))]!;
  return {
    toEndMs: toEnd.sort((a, b) => a - b)[Math.floor(toEnd.length / 2)]!,
    frames: f.length,
    p50: q(0.5),
    p95: q(0.95),
    max: f[f.length - 1]!,
    slow: f.filter((x) => x > 50).length,
    waiting: r.waiting,
    rowsPassed: r.rowsPassed,
  };
}

async function measure(browser: Browser, url: string, email: string, password: string, atSize = false) {
  const ctx = await signIn(browser, url, email, password);
  const page = await ctx.newPage();
  const out: Record<string, { render: number; interact: number | null }> = {};
  for (const step of STEPS) {
    const renders: number[] = [];
    const interacts: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const t0 = performance.now();
      await page.goto(`${url}${step.path}`, { waitUntil: "load" });
      await page.locator("h1").first().waitFor();
      renders.push(performance.now() - t0);
      if (step.interact) {
        const t1 = performance.now();
        await step.interact(page);
        interacts.push(performance.now() - t1);
      }
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    out[step.name] = { render: median(renders), interact: interacts.length ? median(interacts) : null };
  }
  const scroll = atSize ? await measureScroll(page, url) : null;
  await ctx.close();
  return { out, scroll };
}

async function run(atSize: boolean, browser: Browser) {
  const db = await createTestDatabase();
  const seeded = await seedDatabase(db.prisma, { adminPassword: "bench-password-1234" });
  if (atSize) {
    const t = performance.now();
    await seedAtSize(db);
    console.log(`seeded ${JSON.stringify(SIZE)} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const app = await startConsole(db.url);
  try {
    return await measure(browser, app.url, seeded.adminEmail, "bench-password-1234", atSize);
  } finally {
    await app.stop();
    await db.prisma.$disconnect();
    await db.drop();
  }
}

const { browser, close } = await launchBrowser();
try {
  const base = (await run(false, browser)).out;
  const { out: big, scroll } = await run(true, browser);
  console.log("page        render small  render big  ratio   interact small  interact big  ratio");
  for (const step of STEPS) {
    const a = base[step.name]!;
    const b = big[step.name]!;
    const ms = (x: number | null) => (x === null ? "—" : `${x.toFixed(0)} ms`);
    const ratio = (x: number | null, y: number | null) => (x && y ? `${(y / x).toFixed(2)}×` : "—");
    console.log(
      `${step.name.padEnd(11)} ${ms(a.render).padStart(12)} ${ms(b.render).padStart(11)} ${ratio(a.render, b.render).padStart(6)}` +
        `   ${ms(a.interact).padStart(14)} ${ms(b.interact).padStart(13)} ${ratio(a.interact, b.interact).padStart(6)}`,
    );
  }
  if (scroll) {
    console.log(
      `endpoints at size: scroll to the last of ${SIZE.endpoints.toLocaleString("en")} rows, drawn with its data, in ${scroll.toEndMs.toFixed(0)} ms (median of ${RUNS})`,
    );
    console.log(
      `endpoints at size: 3 s of scrolling at 40 px/frame passed ${scroll.rowsPassed} rows in ${scroll.frames} frames: ` +
        `frame p50 ${scroll.p50.toFixed(1)} ms, p95 ${scroll.p95.toFixed(1)} ms, max ${scroll.max.toFixed(0)} ms, ` +
        `${scroll.slow} frames over 50 ms, ${scroll.waiting} frames with a row in view still loading`,
    );
  }
} finally {
  await close();
}
