// The order that makes a pod's first connection succeed: an allowed answer leaves the proxy only
// after its addresses are in the datapath, and becomes SERVFAIL when that takes longer than the
// bound. A real upstream server on loopback (UDP and TCP) answers; the datapath write is a hook
// whose duration the test sets, and the test records when it finished and when the answer came.
import dgram from "node:dgram";
import net from "node:net";
import dnsPacket from "dns-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RCODE } from "./message.js";
import { DnsProxy, exchangeTcp, exchangeUdp } from "./proxy.js";
import { compileEndpointDns } from "./rules.js";

const answerFor = (query: Buffer) => {
  const q = dnsPacket.decode(query);
  const name = q.questions![0]!.name;
  return dnsPacket.encode({
    type: "response",
    id: q.id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: q.questions,
    answers: [
      { type: "CNAME", name, ttl: 30, data: "target.example.test" },
      { type: "A", name: "target.example.test", ttl: 30, data: "192.0.2.44" },
    ],
  });
};

let udp: dgram.Socket;
let tcp: net.Server;
let port = 0;
const upstreamSeen: string[] = [];

beforeAll(async () => {
  udp = dgram.createSocket("udp4");
  udp.on("message", (m, r) => {
    upstreamSeen.push(dnsPacket.decode(m).questions![0]!.name);
    udp.send(answerFor(m), r.port, r.address);
  });
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
  port = udp.address().port;
  tcp = net.createServer((s) => {
    s.once("data", (d) => {
      const q = d.subarray(2, 2 + d.readUInt16BE(0));
      upstreamSeen.push(dnsPacket.decode(q).questions![0]!.name);
      const a = answerFor(q);
      const head = Buffer.alloc(2);
      head.writeUInt16BE(a.length);
      s.end(Buffer.concat([head, a]));
    });
  });
  await new Promise<void>((r) => tcp.listen(port, "127.0.0.1", () => r()));
});

afterAll(async () => {
  udp.close();
  await new Promise((r) => tcp.close(r));
});

const policy = compileEndpointDns({
  id: "x",
  namespace: "shop",
  name: "client-1",
  labels: {},
  ipv4: "10.0.0.2",
  identity: 1000,
  policyEnforced: { ingress: false, egress: true },
  policies: [],
  entries: [],
  fqdnSelectors: [{ identity: 20971520, matchPattern: "*.example.test", ruleIds: ["r"] }],
  dnsRules: [{ ruleId: "r", ports: [{ port: 0, protocol: 0 }], allowed: [{ matchPattern: "**.test" }] }],
});

function proxyWithWrite(writeMs: number, log: string[]) {
  return new DnsProxy(
    {
      policyFor: () => ({
        ...policy,
        rules: policy.rules.map((r) => ({ ...r, ports: [{ port, protocol: 0 }] })),
      }),
      originalDestination: () => ({ address: "127.0.0.1", port }),
      learn: async (_p, identities, names, addresses) => {
        await new Promise((r) => setTimeout(r, writeMs));
        log.push(
          `written ${identities.join(",")} ${names.join(">")} ${addresses.map((a) => a.address).join(",")}`,
        );
      },
    },
    { datapathTimeoutMs: 100, upstreamTimeoutMs: 1000, deniedResponse: "REFUSED" },
  );
}

const query = (name: string) =>
  dnsPacket.encode({
    type: "query",
    id: 77,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: "A", name }],
  });

describe("the DNS proxy releases an answer only once its addresses are in the datapath", () => {
  for (const protocol of [17, 6]) {
    it(`${protocol === 6 ? "TCP" : "UDP"}: a 30 ms write completes before the answer is released`, async () => {
      const log: string[] = [];
      const proxy = proxyWithWrite(30, log);
      const reply = await proxy.answer(query("alias.other.test"), "10.0.0.2", 40000, protocol);
      log.push("released");
      expect(log).toEqual(["written 20971520 alias.other.test>target.example.test 192.0.2.44", "released"]);
      const a = dnsPacket.decode(reply!);
      expect((a as { rcode?: string }).rcode).toBe("NOERROR");
      expect(a.answers?.map((x) => ("data" in x ? x.data : undefined))).toEqual([
        "target.example.test",
        "192.0.2.44",
      ]);
      expect(proxy.recentEvents()[0]!.datapathMs).toBeGreaterThanOrEqual(29);
    });
  }

  it("a write slower than the bound (100 ms) turns the answer into SERVFAIL, counted", async () => {
    const log: string[] = [];
    const proxy = proxyWithWrite(1_500, log);
    const reply = await proxy.answer(query("www.example.test"), "10.0.0.2", 40000, 17);
    // The pod hears SERVFAIL while the write is still running (not after it), so it asks again.
    expect(log).toEqual([]);
    expect(reply!.readUInt16BE(2) & 0x0f).toBe(RCODE.SERVFAIL);
    expect(proxy.stats.datapathTimeouts).toBe(1);
  });

  it("the exchange helpers talk to a real server over UDP and TCP", async () => {
    for (const f of [exchangeUdp, exchangeTcp]) {
      const r = dnsPacket.decode(await f({ address: "127.0.0.1", port }, query("a.test"), 1000));
      expect(r.id).toBe(77);
    }
    expect(upstreamSeen).toContain("a.test");
  });
});
