// What-if equals enforcement: random policies and pods are compiled by the control plane's compiler;
// the API's whatIf answers random flows; the same flows go through the real BPF programs
// (BPF_PROG_TEST_RUN) holding node n1's compiled state, written into the maps the way the agent
// writes it (translate.ts). The kernel's verdict and the rule it reports deciding must be what-if's.
// Needs root, BTF, bpffs and the built objects.

import { buildPacket } from "@meridian/bpf/packet";
import type { SnapshotEndpoint, SnapshotPolicy } from "@meridian/model";
import {
  type ClusterSnapshot,
  compileNodeState,
  emptySnapshot,
  networkPolicySpecSchema,
  whatIf,
} from "@meridian/model";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drainFlowEvents, openFlowEvents, PinnedDatapath } from "../../datapath/index.js";
import { ebpfUnsupportedReason } from "./ebpf-datapath.js";
import { flagsOf, ruleNumber, rulesOf } from "./translate.js";

const pinDir = `/sys/fs/bpf/meridian-test-${process.pid}-whatif`;
const unsupported = ebpfUnsupportedReason(pinDir);
const TC_ACT_OK = 0;
const TC_ACT_SHOT = 2;
/** BPF_PROG_TEST_RUN delivers packets on lo: the pods' interface here. */
const LO = 1;

const APPS = ["a", "b", "c"] as const;
const LOCAL_IPS = ["10.1.1.10", "10.1.1.11", "10.1.1.12"];
const REMOTE_IPS = ["10.1.2.20", "10.1.2.21"];
const EXTERNAL_IPS = ["192.0.2.5", "198.51.100.7", "172.16.5.5", "172.20.1.1"];
const PORTS = [53, 80, 443, 5432, 8000, 8050, 8100, 9000];

const app = fc.constantFrom(...APPS);
const protocol = fc.constantFrom("TCP" as const, "UDP" as const);
const toPorts = fc.option(
  fc.oneof(
    fc.record({ port: fc.constantFrom(...PORTS).map(String), protocol }),
    fc.record({ port: fc.constant(8000), endPort: fc.constant(8100), protocol }),
  ),
  { nil: undefined },
);
type Dir = "ingress" | "egress";
function peer(dir: Dir) {
  const e = dir === "ingress" ? "from" : "to";
  return fc.oneof(
    app.map((a) => ({ [`${e}Endpoints`]: [{ matchLabels: { app: a } }] })),
    fc.constantFrom("world", "cluster", "all").map((x) => ({ [`${e}Entities`]: [x] })),
    fc.constant({ [`${e}CIDRSet`]: [{ cidr: "172.16.0.0/12", except: ["172.20.0.0/16"] }] }),
    fc.constant({ [`${e}CIDR`]: ["192.0.2.0/24"] }),
    fc.constant({}),
  );
}
function rule(dir: Dir) {
  return fc
    .tuple(peer(dir), toPorts)
    .map(([p, port]) => ({ ...p, ...(port ? { toPorts: [{ ports: [port] }] } : {}) }));
}
const rules = (dir: Dir) => fc.array(rule(dir), { maxLength: 2 });
const policySpec = fc.record({
  selector: fc.option(app, { nil: undefined }),
  ingress: rules("ingress"),
  egress: rules("egress"),
  ingressDeny: fc.array(rule("ingress"), { maxLength: 1 }),
  egressDeny: fc.array(rule("egress"), { maxLength: 1 }),
});

const clusterArb = fc
  .record({
    localApps: fc.array(app, { minLength: LOCAL_IPS.length, maxLength: LOCAL_IPS.length }),
    remoteApps: fc.array(app, { minLength: REMOTE_IPS.length, maxLength: REMOTE_IPS.length }),
    policies: fc.array(policySpec, { minLength: 1, maxLength: 3 }),
  })
  .map(({ localApps, remoteApps, policies }): ClusterSnapshot => {
    const pod = (node: string, ip: string, a: string, i: number): SnapshotEndpoint => ({
      id: `prod/${node}-pod-${i}`,
      node,
      namespace: "prod",
      name: `${node}-pod-${i}`,
      labels: { app: a },
      ipv4: ip,
      identity: 1000 + APPS.indexOf(a as (typeof APPS)[number]),
    });
    const endpoints = [
      ...LOCAL_IPS.map((ip, i) => pod("n1", ip, localApps[i]!, i)),
      ...REMOTE_IPS.map((ip, i) => pod("n2", ip, remoteApps[i]!, i)),
    ];
    const compiled: SnapshotPolicy[] = policies.map((p, i) => ({
      id: `pol-${i}`,
      name: `p${i}`,
      namespace: "prod",
      enabled: true,
      version: 1,
      spec: networkPolicySpecSchema.parse({
        endpointSelector: p.selector ? { matchLabels: { app: p.selector } } : {},
        ...(p.ingress.length ? { ingress: p.ingress } : {}),
        ...(p.egress.length ? { egress: p.egress } : {}),
        ...(p.ingressDeny.length ? { ingressDeny: p.ingressDeny } : {}),
        ...(p.egressDeny.length ? { egressDeny: p.egressDeny } : {}),
      }),
    }));
    return {
      ...emptySnapshot(1),
      nodes: [
        { name: "n1", labels: {}, addresses: ["192.168.0.11/24"], podCIDRs: ["10.1.1.0/24"] },
        { name: "n2", labels: {}, addresses: ["192.168.0.12/24"], podCIDRs: ["10.1.2.0/24"] },
      ],
      endpoints,
      identities: APPS.map((a, i) => ({ id: 1000 + i, labels: { app: a } })),
      policies: compiled,
    };
  });

/** A flow n1's programs decide: a local pod's egress to any address, or a pod's ingress to a local pod. */
const flowArb = fc.record({
  direction: fc.constantFrom<Dir>("egress", "ingress"),
  local: fc.integer({ min: 0, max: LOCAL_IPS.length - 1 }),
  remote: fc.constantFrom(...LOCAL_IPS, ...REMOTE_IPS, ...EXTERNAL_IPS),
  protocol,
  port: fc.constantFrom(...PORTS),
});

describe.skipIf(unsupported !== null)("what-if against the BPF programs (BPF_PROG_TEST_RUN)", () => {
  let dp: PinnedDatapath;
  let events: ReturnType<typeof openFlowEvents>;

  beforeAll(() => {
    dp = PinnedDatapath.load({ pinDir });
    events = openFlowEvents(dp.maps.maps.mdp_events);
  });
  afterAll(() => {
    events?.close();
    dp?.close();
    PinnedDatapath.destroy(pinDir);
  });

  /** The maps hold exactly n1's compiled endpoints, ipcache and policy, as the agent writes them. */
  function enforce(snapshot: ClusterSnapshot) {
    const m = dp.maps;
    for (const e of m.listEndpoints()) {
      m.clearPolicy(e.epId);
      m.deleteEndpoint(e.ip);
    }
    for (const c of m.listIpcache()) m.deleteIpcache(c.cidr);
    const state = compileNodeState(snapshot, "n1");
    for (const entry of state.ipcache) m.setIpcache(entry.prefix, entry.identity);
    state.endpoints.forEach((d, i) => {
      const epId = 100 + i;
      m.setEndpoint(d.ipv4!, { epId, identity: d.identity, ifindex: LO, flags: flagsOf(d) });
      m.setPolicy(epId, rulesOf(d));
    });
  }

  function kernel(
    point: "from_pod" | "to_pod",
    src: string,
    dst: string,
    proto: "TCP" | "UDP",
    port: number,
  ) {
    dp.maps.flushConntrack();
    drainFlowEvents(events);
    const res = dp.programs[point].testRun({
      data: buildPacket({ src, dst, protocol: proto === "TCP" ? "tcp" : "udp", sport: 40000, dport: port }),
    });
    const decided = drainFlowEvents(events).find((e) => e.point === point);
    return { retval: res.retval, ruleId: decided?.ruleId ?? 0 };
  }

  it("every flow gets the kernel's verdict and deciding rule from what-if", () => {
    let flows = 0;
    let denied = 0;
    let withRule = 0;
    fc.assert(
      fc.property(clusterArb, fc.array(flowArb, { minLength: 1, maxLength: 8 }), (snapshot, flowList) => {
        enforce(snapshot);
        for (const f of flowList) {
          const local = snapshot.endpoints.find((e) => e.ipv4 === LOCAL_IPS[f.local])!;
          let check: ReturnType<typeof whatIf>["checks"][number] | undefined;
          let got: ReturnType<typeof kernel>;
          if (f.direction === "egress") {
            check = whatIf(snapshot, {
              source: local.id,
              destination: { ip: f.remote },
              port: f.port,
              protocol: f.protocol,
            }).checks[0];
            got = kernel("from_pod", local.ipv4!, f.remote, f.protocol, f.port);
          } else {
            // What-if names its source by endpoint: ingress from pods only.
            const source = snapshot.endpoints.find((e) => e.ipv4 === f.remote);
            if (!source || source.id === local.id) continue;
            const answer = whatIf(snapshot, {
              source: source.id,
              destination: { endpoint: local.id },
              port: f.port,
              protocol: f.protocol,
            });
            check = answer.checks.find((c) => c.direction === "ingress" && c.endpoint === local.id);
            got = kernel("to_pod", source.ipv4!, local.ipv4!, f.protocol, f.port);
          }
          expect(check, "what-if checked this direction").toBeDefined();
          if (got.ruleId) withRule++;
          const where = `${f.direction} ${local.id} ${f.direction === "egress" ? "→" : "←"} ${f.remote} ${f.protocol}/${f.port}`;
          expect(got.retval, `${where}: what-if says ${check!.verdict} (${check!.reason})`).toBe(
            check!.verdict === "allow" ? TC_ACT_OK : TC_ACT_SHOT,
          );
          expect(got.ruleId, `${where}: deciding rule (what-if: ${check!.ruleId ?? "none"})`).toBe(
            check!.ruleId ? ruleNumber(check!.ruleId) : 0,
          );
          flows++;
          if (check!.verdict === "deny") denied++;
        }
      }),
      { numRuns: 150, seed: Number(process.env.WHATIF_SEED ?? 20261202) },
    );
    // Both answers are common enough that the comparison means something.
    expect(flows).toBeGreaterThan(300);
    expect(denied).toBeGreaterThan(flows * 0.1);
    expect(denied).toBeLessThan(flows * 0.9);
    // …and the kernel named a deciding rule often enough that rule numbers are compared too.
    expect(withRule).toBeGreaterThan(20);
  });
});
