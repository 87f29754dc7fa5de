// The real `npm start` as a newcomer uses it: run it, stop it, point it at another database, come
// back. Each run uses this file's own state folder, ports and lab prefix (see npm-start.ts).
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createMeridianClient } from "@meridian/api/client";
import { createTestDatabase, type TestDatabase } from "@meridian/db/testing";
import { needs, parts } from "@meridian/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labNamespaces, teardownLab } from "../lab/builder";
import { FRR_LAB_PARTS, until } from "../lab/control-plane-harness";
import { curlFrom, DEMO_DNS, digFrom } from "../lab/demo-dns";
import { FABRIC } from "../lab/topology";
import { buildConsole, freePort, repoRoot } from "../src/console";
import { leftAfter, type NpmStart, npmStart, printedCredentials, processesOf } from "./npm-start";

/** Up to the console answering: PGlite's first initialisation is the slow part (6–17 s). */
const CONSOLE_UP_MS = 120_000;
const CREDENTIALS =
  /meridian: sign in as \S+ with password \S+ .*\n|meridian: \S+ exists in this database .*\n/;

let stateDir: string;
let port: number;
let embeddedDbPort: number;
const labPrefix = `mrdlabs${process.pid}-`;
const running = new Set<NpmStart>();

function start(opts: { args?: string[]; env?: Record<string, string> } = {}): NpmStart {
  const run = npmStart({ stateDir, port, embeddedDbPort, labPrefix, ...opts });
  running.add(run);
  void run.exited.then(() => running.delete(run));
  return run;
}

/** Ctrl-C as a terminal sends it; resolves with how long until nothing it started was left. */
async function interrupt(run: NpmStart) {
  const sent = Date.now();
  run.signalGroup("SIGINT");
  const exit = await run.exited;
  const { left } = await leftAfter(() => processesOf(stateDir), 10_000);
  return { exit, left, ms: Date.now() - sent };
}

async function signIn(email: string, password: string) {
  return await createMeridianClient({ url: `http://127.0.0.1:${port}` }).auth.login.mutate({
    email,
    password,
  });
}

beforeAll(async () => {
  // One build for every run (turbo skips it when nothing changed): npm start's own build step is then a cache hit.
  buildConsole();
  stateDir = mkdtempSync(path.join(tmpdir(), "meridian-start-"));
  port = await freePort();
  embeddedDbPort = await freePort();
}, 600_000);

afterAll(async () => {
  for (const run of running) run.signalGroup("SIGKILL");
  for (const p of processesOf(stateDir)) process.kill(p.pid, "SIGKILL");
  await teardownLab(labPrefix).catch(() => undefined);
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

describe.skipIf(needs("npm start prints credentials", [parts.database]).skip)(
  "npm start prints credentials that sign in to the database in use",
  () => {
    let other: TestDatabase;
    beforeAll(async () => {
      other = await createTestDatabase({ migrate: false });
    });
    afterAll(async () => {
      await other?.drop();
    });

    it("embedded, then a fresh PostgreSQL database, then embedded again: each run's printed password signs in", async () => {
      const first = start({ args: ["--no-lab"] });
      await first.waitFor(CREDENTIALS, CONSOLE_UP_MS);
      const embedded = printedCredentials(first.output());
      expect(first.output()).toContain("(created now;");
      expect((await signIn(embedded!.email, embedded!.password)).user.role).toBe("admin");
      expect((await interrupt(first)).left).toEqual([]);

      const second = start({ args: ["--no-lab"], env: { DATABASE_URL: other.url } });
      await second.waitFor(CREDENTIALS, CONSOLE_UP_MS);
      const postgres = printedCredentials(second.output());
      expect(second.output()).toContain("(created now;");
      expect(postgres!.password).not.toBe(embedded!.password);
      expect((await signIn(postgres!.email, postgres!.password)).user.role).toBe("admin");
      await expect(signIn(embedded!.email, embedded!.password)).rejects.toThrow("wrong email or password");
      expect((await interrupt(second)).left).toEqual([]);

      const third = start({ args: ["--no-lab"] });
      await third.waitFor(CREDENTIALS, CONSOLE_UP_MS);
      expect(printedCredentials(third.output())).toEqual(embedded);
      expect(third.output()).toContain("(this database's admin;");
      expect((await signIn(embedded!.email, embedded!.password)).user.role).toBe("admin");
      expect((await interrupt(third)).left).toEqual([]);
    }, 240_000);

    it("says when the password is not known here and how to set one; reset-password prints one that signs in", async () => {
      // Another state folder seeded this database, say: this one has no password for it.
      rmSync(path.join(stateDir, "admin-credentials.json"));
      const run = start({ args: ["--no-lab"] });
      const [said] = await run.waitFor(CREDENTIALS, CONSOLE_UP_MS);
      expect(said).toBe(
        `meridian: admin@meridian.local exists in this database (the embedded database in ${stateDir}/pglite), but its password is not known here: this state folder has no password for this database (it was seeded elsewhere). Set a new one with: npm run admin -- reset-password (with the same MERIDIAN_START_STATE_DIR)\n`,
      );
      // While npm start serves the embedded database, the command uses that server.
      const reset = spawnSync("npm", ["run", "--silent", "admin", "--", "reset-password"], {
        cwd: repoRoot,
        env: { ...process.env, DATABASE_URL: "", MERIDIAN_START_STATE_DIR: stateDir },
        encoding: "utf8",
      });
      expect(reset.stderr).toBe("");
      const password = reset.stdout.match(
        /^admin: new password for admin@meridian\.local in the embedded database in \S+: (\S+)$/m,
      )?.[1];
      expect(password).toBeTruthy();
      expect((await signIn("admin@meridian.local", password!)).user.role).toBe("admin");
      const saved = JSON.parse(readFileSync(path.join(stateDir, "admin-credentials.json"), "utf8"));
      expect(Object.values(saved.databases)).toEqual([expect.objectContaining({ password })]);
      expect((await interrupt(run)).left).toEqual([]);
    }, 120_000);
  },
);

describe("a part that fails is named, with its reason and its log, and nothing is left running", () => {
  it("an unreachable DATABASE_URL", async () => {
    const closed = await freePort();
    const run = start({
      args: ["--no-lab"],
      env: { DATABASE_URL: `postgresql://postgres@127.0.0.1:${closed}/x` },
    });
    expect((await run.exited).code).toBe(1);
    expect(run.output()).toContain(
      `meridian: the database failed: cannot reach the database at 127.0.0.1:${closed}/x: connection refused (is PostgreSQL running and listening there?). Full log: ${path.join(stateDir, "logs", "database.log")}\n`,
    );
    expect(processesOf(stateDir)).toEqual([]);
  });

  it(
    "the console's port taken by another program: the embedded database it opened is stopped too",
    async () => {
      const squatter = net.createServer().listen(port);
      await once(squatter, "listening");
      try {
        const run = start({ args: ["--no-lab"] });
        expect((await run.exited).code).toBe(1);
        expect(run.output()).toContain(
          `meridian: the console failed: it exited before it was ready (exit code 1): port ${port} is already in use by another program (choose another with --port). Full log: ${path.join(stateDir, "logs", "console.log")}\n`,
        );
        expect((await leftAfter(() => processesOf(stateDir), 5_000)).left).toEqual([]);
      } finally {
        squatter.close();
      }
    },
    CONSOLE_UP_MS,
  );
});

describe.skipIf(needs("npm start with the demo lab", [...FRR_LAB_PARTS, parts.dnsmasq]).skip)(
  "npm start with the demo lab",
  () => {
    it("a demo-lab failure is one sentence with its reason and the log's path; the console stays up", async () => {
      const run = start({ env: { MERIDIAN_LAB_PASSWORD: "not-the-password" } });
      const [line, logPath] = await run.waitFor(
        /^meridian: the demo lab failed: .*Full log: (\S+)$/m,
        CONSOLE_UP_MS,
      );
      expect(line).toBe(
        `meridian: the demo lab failed: the lab's sign-in as admin@meridian.local was refused: wrong email or password. Full log: ${path.join(stateDir, "logs", "demo-lab.log")}`,
      );
      expect(readFileSync(logPath!, "utf8")).toContain(
        `signing in to http://127.0.0.1:${port} as admin@meridian.local`,
      );
      const creds = printedCredentials(run.output())!;
      expect((await signIn(creds.email, creds.password)).user.role).toBe("admin");
      expect(await labNamespaces(labPrefix)).toEqual([]);
      expect((await interrupt(run)).left).toEqual([]);
    }, 120_000);

    it("Ctrl-C with the lab's agents connected stops everything it started, the lab too, within seconds", async () => {
      const run = start();
      await run.waitFor(/^meridian: demo lab up: .*$/m, 240_000);
      const creds = printedCredentials(run.output())!;
      const { sessionToken } = await signIn(creds.email, creds.password);
      const nodes = await createMeridianClient({
        url: `http://127.0.0.1:${port}`,
        token: sessionToken,
      }).nodes.list.query({});
      expect(nodes.items.map((n) => [n.name, n.joinState])).toEqual([
        ["node1", "joined"],
        ["node2", "joined"],
      ]);
      for (const n of nodes.items) expect(Date.now() - n.lastHeartbeatAt!.getTime()).toBeLessThan(30_000);

      // The DNS demo: what the newcomer tries from client-1 (DNS page, README "Try it").
      expect(run.output()).toMatch(/^meridian: DNS demo: dnsmasq on 10\.99\.0\.53 answers .*$/m);
      const client = `${labPrefix}node1-client-1`;
      const ext1 = FABRIC.v4(FABRIC.externalHost(0));
      await until(
        "ext1.lab answered through node1's DNS proxy",
        async () => (await digFrom(client, "ext1.lab")).status === "NOERROR",
        30_000,
      );
      expect(await digFrom(client, "ext1.lab")).toEqual({ status: "NOERROR", addresses: [ext1] });
      expect(await curlFrom(client, ext1)).toMatch(/^ext1 10\.244\.1\.\d+$/);
      expect(await digFrom(client, "blocked.lab")).toEqual({ status: "REFUSED", addresses: [] });
      expect(await curlFrom(client, DEMO_DNS.blockedAddress)).toMatch(/^failed: /);

      // The egress demo: web-1 on node1 reaches ext1 with node2's address; client-1 kept its own above.
      expect(run.output()).toMatch(/^meridian: Egress demo: policy shop-web-to-ext1 .*$/m);
      const web = `${labPrefix}node1-web-1`;
      await until(
        "web-1 reaching ext1 through node2",
        async () => (await curlFrom(web, ext1)) === `ext1 ${FABRIC.v4(2)}`,
        30_000,
      );

      const before = processesOf(stateDir).map((p) => p.cmd);
      const parts = {
        console: /console-server\.mjs|next-server|next start/,
        "embedded database": /embedded-db\.ts/,
        agent: /meridian-agent\.mjs run/,
        FRR: /\/usr\/lib\/frr\/bgpd/,
        dnsmasq: /dnsmasq .*--listen-address=10\.99\.0\.53/,
      };
      for (const [part, re] of Object.entries(parts))
        expect(
          before.some((c) => re.test(c)),
          `${part} runs`,
        ).toBe(true);

      const { exit, left, ms } = await interrupt(run);
      expect(exit.code).toBe(0);
      expect(left).toEqual([]);
      expect(ms).toBeLessThan(8_000);
      expect(await labNamespaces(labPrefix)).toEqual([]);
      expect(existsSync(path.join(stateDir, "demo-lab.json"))).toBe(false);
      // The agents' event streams were open when it stopped, and the console closed them.
      expect(readFileSync(path.join(stateDir, "logs", "console.log"), "utf8")).toMatch(
        /stopping \(SIGTERM\): closing [1-9]\d* open request/,
      );
    }, 300_000);
  },
);
