// `meridian-agent flows`: the filters the agent applies, the table's columns (verdict, direction,
// endpoint, deciding rule), and the binary piped into `head` against a local agent socket that
// streams more flows than head reads: no stack trace, exit status 0.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flowCells } from "./cli.js";
import type { FlowEvent } from "./datapath.js";
import { matchesFlow, parseFlowFilter } from "./flow-filter.js";

const denied: FlowEvent = {
  time: "2026-12-02T12:00:00.000Z",
  src: "10.244.1.5",
  dst: "10.244.2.7",
  proto: "tcp",
  sport: 40000,
  dport: 5432,
  verdict: "dropped",
  reason: "policy_default",
  endpoint: "c1/eth0",
  namespace: "prod",
  pod: "db-1",
  direction: "ingress",
  ruleId: "default-deny",
  policies: ["prod/db-allow-web", "prod/db-lockdown"],
};
const allowed: FlowEvent = {
  ...denied,
  src: "10.244.1.9",
  dport: 5432,
  verdict: "forwarded",
  reason: undefined,
  ruleId: "prod/db-allow-web/ingress[0]",
  policies: ["prod/db-allow-web"],
  peerNamespace: "prod",
  peerPod: "web-1",
};
delete allowed.reason;

describe("flow filters", () => {
  const pick = (q: Record<string, string>) =>
    [denied, allowed]
      .filter((f) =>
        matchesFlow(
          f,
          parseFlowFilter((k) => q[k]),
        ),
      )
      .map((f) => f.verdict);

  it("match every field the CLI offers, all of them at once", () => {
    expect(pick({})).toEqual(["dropped", "forwarded"]);
    expect(pick({ verdict: "dropped" })).toEqual(["dropped"]);
    expect(pick({ reason: "policy_default" })).toEqual(["dropped"]);
    expect(pick({ reason: "forwarded" })).toEqual(["forwarded"]);
    expect(pick({ rule: "default-deny" })).toEqual(["dropped"]);
    expect(pick({ rule: "prod/db-lockdown" })).toEqual(["dropped"]);
    expect(pick({ rule: "prod/db-allow-web" })).toEqual(["dropped", "forwarded"]);
    expect(pick({ rule: "prod/db-allow-web/ingress[0]" })).toEqual(["forwarded"]);
    expect(pick({ pod: "web-1" })).toEqual(["forwarded"]);
    expect(pick({ pod: "prod/db-1" })).toEqual(["dropped", "forwarded"]);
    expect(pick({ pod: "dev/db-1" })).toEqual([]);
    expect(pick({ namespace: "prod" })).toEqual(["dropped", "forwarded"]);
    expect(pick({ namespace: "dev" })).toEqual([]);
    expect(pick({ ip: "10.244.1.5" })).toEqual(["dropped"]);
    expect(pick({ port: "5432" })).toEqual(["dropped", "forwarded"]);
    expect(pick({ port: "40000", ip: "10.244.1.9" })).toEqual(["forwarded"]);
    expect(pick({ protocol: "udp" })).toEqual([]);
    expect(pick({ protocol: "6" })).toEqual(["dropped", "forwarded"]);
    expect(pick({ verdict: "dropped", ip: "10.244.1.9" })).toEqual([]);
  });

  it("refuses a port that is not one", () => {
    expect(() => parseFlowFilter((k) => (k === "port" ? "http" : undefined))).toThrow(
      'port "http" is not a port',
    );
  });
});

describe("the flows table", () => {
  it("names verdict, direction, endpoint and the deciding rule, a default deny by its policies", () => {
    expect(flowCells({ ...denied, suppressed: 12 })).toEqual([
      denied.time,
      "dropped",
      "ingress",
      "prod/db-1",
      "10.244.1.5:40000",
      "10.244.2.7:5432",
      "tcp",
      "policy_default (+12 held back)",
      "default-deny (prod/db-allow-web, prod/db-lockdown)",
    ]);
    expect(flowCells(allowed).slice(1, 4)).toEqual(["forwarded", "ingress", "prod/db-1"]);
    expect(flowCells(allowed).at(-1)).toBe("prod/db-allow-web/ingress[0]");
  });
});

describe("meridian-agent flows | head", () => {
  let dir = "";
  let server: http.Server;
  const socket = () => path.join(dir, "agent.sock");
  const paths: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "flows-cli-"));
    server = http.createServer((req, res) => {
      paths.push(req.url ?? "");
      if (req.url === "/v1/status") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{}");
        return;
      }
      // A follow stream that never ends on its own: 20,000 flows, then silence.
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      const line = `${JSON.stringify(denied)}\n`;
      res.write(line.repeat(20_000));
    });
    await new Promise<void>((r) => server.listen(socket(), r));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  for (const json of [false, true]) {
    it(`ends quietly when head has read enough${json ? " (--json)" : ""}`, async () => {
      const bin = path.resolve(__dirname, "../../../bin/meridian-agent.mjs");
      const args = [
        "flows",
        "--follow",
        "--verdict",
        "dropped",
        "--socket",
        socket(),
        ...(json ? ["--json"] : []),
      ];
      const status = path.join(dir, `status-${json}`);
      const agent = [process.execPath, bin, ...args].map((a) => `'${a}'`).join(" ");
      // The agent's own exit status, not head's: the pipeline reports the last command's.
      const sh = spawn("sh", ["-c", `(${agent}; echo $? > '${status}') | head -n 3`], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      sh.stdout.on("data", (d) => (stdout += d));
      sh.stderr.on("data", (d) => (stderr += d));
      const code = await new Promise<number | null>((r) => sh.on("close", r));
      expect(stderr).toBe("");
      expect(code).toBe(0);
      expect(readFileSync(status, "utf8").trim()).toBe("0");
      const lines = stdout.trimEnd().split("\n");
      expect(lines).toHaveLength(3);
      if (json) expect(JSON.parse(lines[0]!)).toMatchObject({ ruleId: "default-deny" });
      else expect(lines[0]).toMatch(/^TIME\s+VERDICT\s+DIR\s+ENDPOINT/);
      expect(paths).toContain("/v1/flows?follow=1&verdict=dropped");
    }, 30_000);
  }
});
