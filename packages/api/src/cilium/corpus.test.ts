// The Cilium corpus (corpus/SOURCES.md): real documents Cilium accepts. For each file: the import
// does not crash and accounts for every document; every field of an accepted object either
// arrives in Meridian or is reported by path; every accepted policy gives the verdicts Cilium's
// semantics give (ciliumSemantics.test-helpers.ts) on a grid of flows built from its own selectors;
// and it exports to YAML that Cilium's CRD schemas accept and that imports back unchanged.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { SnapshotEndpoint, SnapshotPolicy } from "@meridian/model";
import { whatIf } from "@meridian/model";
import { cluster } from "@meridian/model/testing";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  directionVerdict,
  type RefEndpoint,
  type RefFlow,
  type RefPeer,
  selectingSpecs,
} from "./ciliumSemantics.test-helpers";
import { crdProblems } from "./crdSchemas.test-helpers";
import { exportCiliumYaml, type ImportedObject, importCiliumYaml } from "./index";

const CORPUS = path.join(import.meta.dirname, "corpus");
/** Each source's copies sit in their own folder; crd-schemas holds the CRD schemas, not documents. */
const NOT_DOCUMENTS = new Set(["crd-schemas", "SOURCES.md"]);

/** YAML files under the corpus, as paths relative to it, sorted. */
function corpusFiles(dir = "", out: string[] = []): string[] {
  for (const entry of readdirSync(path.join(CORPUS, dir)).sort()) {
    const rel = dir ? `${dir}/${entry}` : entry;
    if (!dir && NOT_DOCUMENTS.has(entry)) continue;
    if (statSync(path.join(CORPUS, rel)).isDirectory()) corpusFiles(rel, out);
    else if (/\.ya?ml$/.test(entry)) out.push(rel);
  }
  return out;
}

/** `cilium connectivity test` defaults for the simple placeholders of its templates. */
const PLACEHOLDERS: Record<string, string> = {
  ExternalTarget: "one.one.one.one.",
  ExternalOtherTarget: "k8s.io.",
  ExternalIPv4: "1.1.1.1",
  ExternalIPv6: "2606:4700:4700::1111",
  ExternalOtherIPv4: "1.0.0.1",
  ExternalOtherIPv6: "2606:4700:4700::1001",
  ExternalCIDRv4: "1.0.0.0/8",
  ExternalCIDRv6: "2606:4700::/32",
  TestNamespace: "cilium-test-1",
  // Meridian's cluster has Cilium's default name.
  ClusterNameLocal: "default",
  ClusterNameRemote: "remote",
  ExternalTargetCAName: "cabundle",
  ExternalTargetCANamespace: "cilium-test-1",
  ExternalDeploymentPort: "8080",
};

/** Fills `{{.X}}`, `{{trimSuffix .X "."}}` and `{{ .X | ipToCIDR }}`; undefined for other templates. */
function render(text: string): string | undefined {
  const out = text
    .replace(/\{\{\s*trimSuffix \.(\w+) "\."\s*\}\}/g, (m, k) => PLACEHOLDERS[k]?.replace(/\.$/, "") ?? m)
    .replace(/\{\{\s*\.(\w+)\s*\|\s*ipToCIDR\s*\}\}/g, (m, k) =>
      PLACEHOLDERS[k] ? `${PLACEHOLDERS[k]}/${PLACEHOLDERS[k]!.includes(":") ? 128 : 32}` : m,
    )
    .replace(/\{\{\s*\.(\w+)\s*\}\}/g, (m, k) => PLACEHOLDERS[k] ?? m);
  return out.includes("{{") ? undefined : out;
}

const FILES = corpusFiles().map((name) => ({
  name,
  text: render(readFileSync(path.join(CORPUS, name), "utf8")),
}));
const USABLE = FILES.filter((f): f is { name: string; text: string } => f.text !== undefined);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Leaf paths of a JSON value, `a.b[0].c` → value as text. */
function leaves(value: unknown, at: string, out = new Map<string, string>()): Map<string, string> {
  if (Array.isArray(value)) {
    if (value.length === 0) out.set(at, "[]");
    for (const [i, v] of value.entries()) leaves(v, `${at}[${i}]`, out);
  } else if (isObj(value)) {
    if (Object.keys(value).length === 0) out.set(at, "{}");
    for (const [k, v] of Object.entries(value)) leaves(v, at ? `${at}.${k}` : k, out);
  } else out.set(at, String(value));
  return out;
}

const at = (value: unknown, pathText: string): unknown =>
  pathText
    .split(/\.|\[(\d+)\]/)
    .filter(Boolean)
    .reduce<unknown>((v, k) => (isObj(v) || Array.isArray(v) ? (v as never)[k] : undefined), value);

const withoutSource = (objects: ImportedObject[]) =>
  objects.map(({ source: _s, origin: _o, ...rest }) => rest);

// ---- the grid of flows --------------------------------------------------------------------------

function selectorsIn(value: unknown, out: Obj[] = []): Obj[] {
  if (Array.isArray(value)) for (const v of value) selectorsIn(v, out);
  else if (isObj(value)) {
    if ("matchLabels" in value || "matchExpressions" in value) out.push(value);
    for (const v of Object.values(value)) selectorsIn(v, out);
  }
  return out;
}

/**
 * Endpoints that satisfy each selector of the document, plus a stranger per namespace. A document
 * without a namespace lands in "default", as `kubectl apply` puts it.
 */
function gridEndpoints(doc: Obj): RefEndpoint[] {
  const own =
    isObj(doc.metadata) && typeof doc.metadata.namespace === "string" ? doc.metadata.namespace : "default";
  const eps: RefEndpoint[] = [];
  for (const sel of selectorsIn(doc.spec ?? doc.specs)) {
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(isObj(sel.matchLabels) ? sel.matchLabels : {}))
      labels[k.replace(/^(k8s|any):/, "")] = String(v);
    for (const req of Array.isArray(sel.matchExpressions) ? sel.matchExpressions : []) {
      if (!isObj(req)) continue;
      const key = String(req.key).replace(/^(k8s|any):/, "");
      if (req.operator === "In" && Array.isArray(req.values)) labels[key] = String(req.values[0]);
      if (req.operator === "Exists") labels[key] = "yes";
    }
    const { "io.kubernetes.pod.namespace": ns, ...rest } = labels;
    eps.push({ namespace: ns ?? own, labels: rest });
  }
  // The pods a document selects declare the port names it uses (a number in the name, as in
  // `http-8080`, else 9000 + its position), all alike; strangers declare none.
  const ports = namedPortsOf(doc).map((name, i) => ({
    name,
    port: Number(/\d+/.exec(name)?.[0] ?? 9000 + i),
    protocol: "TCP" as const,
  }));
  if (ports.length > 0) for (const ep of eps) ep.ports = ports;
  for (const ns of new Set([own, "kube-system", ...eps.map((e) => e.namespace)]))
    eps.push({ namespace: ns, labels: { role: "stranger" } });
  const unique = new Map(eps.map((e) => [JSON.stringify(e), e]));
  return [...unique.values()];
}

/** The port names a document's rules use. */
function namedPortsOf(doc: Obj): string[] {
  const names = new Set<string>();
  for (const [p, v] of leaves(doc.spec ?? doc.specs, ""))
    if (/\.port$/.test(p) && /[a-z]/i.test(v)) names.add(v);
  return [...names].sort();
}

function gridWorld(doc: Obj): string[] {
  const ips = new Set(["1.1.1.1", "8.8.8.8", "203.0.113.7"]);
  for (const [, v] of leaves(doc.spec ?? doc.specs, "")) {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(v);
    if (m) ips.add(`${m[1]}.${m[2]}.${m[3]}.${Number(m[4]) + (Number(m[5]) < 32 ? 1 : 0)}`);
  }
  return [...ips];
}

function gridFlows(doc: Obj): RefFlow[] {
  const ports = new Set([53, 80, 443, 8080]);
  for (const [p, v] of leaves(doc.spec ?? doc.specs, "")) {
    if (/\.(port|endPort)$/.test(p) && /^\d+$/.test(v) && Number(v) > 0) ports.add(Number(v));
  }
  namedPortsOf(doc).forEach((name, i) => {
    ports.add(Number(/\d+/.exec(name)?.[0] ?? 9000 + i));
  });
  return [...ports].flatMap((port) => [
    { protocol: "TCP" as const, port },
    { protocol: "UDP" as const, port },
  ]);
}

interface Disagreement {
  flow: string;
  cilium: string;
  meridian: string;
  reason: string;
}

/** Where Meridian's compiler and Cilium's semantics disagree on the grid, for one accepted document. */
function disagreements(doc: Obj, policies: SnapshotPolicy[]): Disagreement[] {
  const refs = gridEndpoints(doc);
  const endpoints: SnapshotEndpoint[] = refs.map((e, i) => ({
    id: `${e.namespace}/ep-${i}`,
    node: i % 2 === 0 ? "n1" : "n2",
    namespace: e.namespace,
    name: `ep-${i}`,
    labels: e.labels,
    ...(e.ports ? { ports: e.ports } : {}),
    ipv4: `10.1.${i % 2 === 0 ? 1 : 2}.${10 + i}`,
    identity: 2000 + i,
  }));
  const snapshot = cluster({
    endpoints,
    identities: endpoints.map((ep) => ({ id: ep.identity, labels: ep.labels })),
    policies,
  });
  const out: Disagreement[] = [];
  const verdictAt = (ep: RefEndpoint, direction: "ingress" | "egress", peer: RefPeer, flow: RefFlow) =>
    directionVerdict(selectingSpecs(doc as never, ep), direction, peer, flow, { local: ep, all: refs });
  for (const flow of gridFlows(doc)) {
    refs.forEach((src, i) => {
      const peers: { peer: RefPeer; dest: { endpoint: string } | { ip: string }; dst?: RefEndpoint }[] = [
        ...refs.map((dst, j) => ({
          peer: { endpoint: dst } as RefPeer,
          dest: { endpoint: endpoints[j]!.id },
          dst,
        })),
        ...gridWorld(doc).map((ip) => ({ peer: { world: ip } as RefPeer, dest: { ip } })),
      ];
      for (const { peer, dest, dst } of peers) {
        const egress = verdictAt(src, "egress", peer, flow);
        const ingress = dst ? verdictAt(dst, "ingress", { endpoint: src }, flow) : "allow";
        const cilium = egress === "deny" || ingress === "deny" ? "deny" : "allow";
        const answer = whatIf(snapshot, {
          source: endpoints[i]!.id,
          destination: dest,
          port: flow.port,
          protocol: flow.protocol,
        });
        if (answer.verdict !== cilium)
          out.push({
            flow: `${endpoints[i]!.id} ${JSON.stringify(src.labels)} → ${"endpoint" in dest ? `${dest.endpoint} ${JSON.stringify(dst?.labels)}` : dest.ip} ${flow.protocol}/${flow.port}`,
            cilium,
            meridian: answer.verdict,
            reason: answer.reason,
          });
      }
    });
  }
  return out;
}

// ---- the tests -----------------------------------------------------------------------------------

describe("Cilium corpus", () => {
  it("holds the documents it says it holds", () => {
    const docs = USABLE.flatMap((f) =>
      parseAllDocuments(f.text)
        .map((d) => d.toJS())
        .filter(isObj),
    );
    const kinds = new Map<string, number>();
    for (const d of docs) kinds.set(String(d.kind), (kinds.get(String(d.kind)) ?? 0) + 1);
    // Printed so a change to the corpus shows what it covers.
    console.log(
      `corpus: ${FILES.length} files, ${USABLE.length} usable, ${docs.length} documents: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(", ")}`,
    );
    let plain = 0;
    let acknowledged = 0;
    let refusedDocs = 0;
    for (const f of USABLE) {
      plain += importCiliumYaml(f.text).objects.length;
      const ack = importCiliumYaml(f.text, { acknowledgeDifferences: true });
      acknowledged += ack.objects.length;
      refusedDocs += new Set(ack.errors.map((e) => e.document)).size;
    }
    console.log(
      `imported: ${plain} objects as they are, ${acknowledged} with differences acknowledged; ${refusedDocs} documents refused even then`,
    );
    expect(docs.length).toBeGreaterThanOrEqual(200);
  });

  it("refuses what it does not support with the field and the reason, and nothing else", () => {
    // Every refusal among the copied (not templated) sources, as document, field and message. A
    // document that starts or stops being refused changes this list.
    const refusals = USABLE.filter((f) => !f.name.startsWith("cilium-cli-connectivity/")).flatMap((f) =>
      importCiliumYaml(f.text, { acknowledgeDifferences: true }).errors.map((e) => [
        f.name,
        e.document,
        e.field,
        e.message,
      ]),
    );
    const HOST = "host policies (nodeSelector) are not supported yet";
    const IN = 'operator "in" is not one of In, NotIn, Exists, DoesNotExist (case matters)';
    expect(refusals).toEqual([
      [
        "cilium/contrib/containerlab/bgpv2/pod-ip-pool/bgp.yaml",
        4,
        "spec.advertisements",
        "CiliumBGPAdvertisement pod-ip-pool-advert not imported: none of its advertisements is of a type Meridian supports (PodCIDR, Service), so nothing it advertises would be advertised",
      ],
      // Cilium's own example writes `egress-node: true`, which Kubernetes refuses as well.
      [
        "cilium/examples/kubernetes-egress-gateway/egress-gateway-policy.yaml",
        0,
        "spec.gateways[0].nodeSelector.matchLabels.egress-node",
        'label value true must be text: quote it ("true")',
      ],
      ["cilium/examples/policies/host/demo-host-policy.yaml", 0, "spec.nodeSelector", HOST],
      ["cilium/examples/policies/host/lock-down-dev-vms-remote-node.yaml", 0, "spec.nodeSelector", HOST],
      ["cilium/examples/policies/host/lock-down-gke.yaml", 0, "spec.nodeSelector", HOST],
      ["cilium/examples/policies/host/lock-down-ingress.yaml", 0, "spec.nodeSelector", HOST],
      // So is its `operator: "in"` (the CRD's enum is In, NotIn, Exists, DoesNotExist).
      [
        "cilium/examples/policies/l3/match-expressions/and-statement.yaml",
        0,
        "spec.ingress[0].fromEndpoints[0].matchExpressions[0].operator",
        IN,
      ],
      [
        "cilium/examples/policies/l3/match-expressions/and-statement.yaml",
        0,
        "spec.ingress[0].fromEndpoints[0].matchExpressions[1].operator",
        IN,
      ],
      [
        "cilium/examples/policies/l3/match-expressions/or-statement.yaml",
        0,
        "spec.ingress[0].fromEndpoints[0].matchExpressions[0].operator",
        IN,
      ],
      [
        "cilium/examples/policies/l3/match-expressions/or-statement.yaml",
        0,
        "spec.ingress[0].fromEndpoints[1].matchExpressions[0].operator",
        IN,
      ],
      ["cilium/test/k8s/manifests/ccnp-default-deny-host-ingress.yaml", 0, "spec.nodeSelector", HOST],
      ["cilium/test/k8s/manifests/ccnp-host-ingress-from-cidr-to-ports.yaml", 0, "spec.nodeSelector", HOST],
      ["cilium/test/k8s/manifests/ccnp-host-policy-nodeport-tests.yaml", 0, "spec.nodeSelector", HOST],
      // A placeholder Cilium's test suite replaces before applying.
      [
        "cilium/test/k8s/manifests/cnp-ingress-from-cidr-to-ports.yaml",
        0,
        "spec.ingress[0].fromCIDR[0]",
        '"NODE_WITHOUT_CILIUM_IP/32" is not a valid IP CIDR (expected address/prefix-length)',
      ],
      ["cilium/test/k8s/manifests/host-policies.yaml", 0, "specs[0].nodeSelector", HOST],
      ["cilium/test/k8s/manifests/host-policies.yaml", 0, "specs[1].nodeSelector", HOST],
      ["cilium/test/k8s/manifests/host-policies.yaml", 0, "specs[2].nodeSelector", HOST],
      ["cilium/test/k8s/manifests/host-policies.yaml", 0, "specs[3].nodeSelector", HOST],
      ["cilium-basics-training/content/en/docs/10/01/ccwnp.yaml", 0, "spec.nodeSelector", HOST],
    ]);
  });

  it("a specs document with one refused part is refused whole, each part saying why", () => {
    // In Cilium the parts apply together; the second part alone would default-deny ingress of
    // every pod in the namespace, which the first part's rules opened for some clients.
    const text = USABLE.find((f) => f.name === "cilium/examples/kubernetes-es/es-sw-policy.yaml")!.text;
    const result = importCiliumYaml(text);
    expect(result.objects).toEqual([]);
    expect(result.errors.map((e) => [e.field, e.message.replace(/ \(.*\);/, " (…);")])).toEqual([
      [
        "specs[0].ingress[0].toPorts[0].rules.http",
        "NetworkPolicy secure-empire-elasticsearch-0 not imported: it would allow traffic the original denies (…); import with the differences acknowledged to accept it",
      ],
      [
        "specs[0].ingress[1].toPorts[0].rules.http",
        "NetworkPolicy secure-empire-elasticsearch-0 not imported: it would allow traffic the original denies (…); import with the differences acknowledged to accept it",
      ],
      [
        "specs[0].ingress[2].toPorts[0].rules.http",
        "NetworkPolicy secure-empire-elasticsearch-0 not imported: it would allow traffic the original denies (…); import with the differences acknowledged to accept it",
      ],
      [
        "specs[1]",
        "NetworkPolicy secure-empire-elasticsearch-1 not imported: another part of this document is not imported, and Cilium enforces a document's specs together, so this part alone would not mean what the document means",
      ],
    ]);
    expect(importCiliumYaml(text, { acknowledgeDifferences: true }).objects.map((o) => o.name)).toEqual([
      "secure-empire-elasticsearch-0",
      "secure-empire-elasticsearch-1",
    ]);
  });

  it("the verdict check notices a policy that lost a rule on the way", () => {
    const text = USABLE.find((f) => f.name === "cilium-cli-connectivity/client-egress-to-echo.yaml")!.text;
    const doc = parseAllDocuments(text)[0]!.toJS() as Obj;
    const [policy] = importCiliumYaml(text).objects;
    const faithful = {
      id: "p",
      name: policy!.name,
      namespace: policy!.namespace,
      enabled: true,
      version: 1,
      spec: policy!.spec as SnapshotPolicy["spec"],
    };
    expect(disagreements(doc, [faithful])).toEqual([]);
    const lossy = { ...faithful, spec: { ...faithful.spec, egress: faithful.spec.egress!.slice(1) } };
    expect(disagreements(doc, [lossy]).length).toBeGreaterThan(0);
  });

  it.each(USABLE.map((f) => [f.name, f.text]))("%s", (_name, text) => {
    const docs = parseAllDocuments(text).map((d) => d.toJS());
    const result = importCiliumYaml(text);
    const acknowledged = importCiliumYaml(text, { acknowledgeDifferences: true });

    // Every document is accounted for: imported, refused with a reason, or skipped with one.
    const importedFrom = (o: ImportedObject) => [o.origin.document, o.origin.peerConfigDocument];
    docs.forEach((doc, index) => {
      if (!isObj(doc)) return;
      const accounted =
        acknowledged.objects.some((o) => importedFrom(o).includes(index)) ||
        acknowledged.errors.some((e) => e.document === index) ||
        acknowledged.skipped.some((s) => s.document === index);
      expect(
        accounted,
        `document ${index} (${String(doc.kind)}) is neither imported, refused nor skipped`,
      ).toBe(true);
    });

    // Nothing is lost unreported: each leaf of an accepted document arrives in the export of the
    // file's objects (the document under its own kind and name), or is reported.
    const together = parseAllDocuments(exportCiliumYaml(acknowledged.objects).yaml).map((d) => d.toJS());
    const exportedAs = (kind: unknown, name: unknown) =>
      together.find((m) => m.kind === kind && m.metadata?.name === name);
    const lostFields = (doc: Obj, original: Map<string, string>, arrived: Map<string, string>) => {
      const reported = acknowledged.unsupported.filter((u) =>
        u.object.endsWith(`/${String((doc.metadata as Obj).name)}`),
      );
      // A list of names (entities) that lost a member shifts the rest: those are matched by value.
      const sameList = (p: string, v: string) => {
        const list = p.replace(/\[\d+\]$/, "");
        return list !== p && [...arrived].some(([q, w]) => w === v && q.replace(/\[\d+\]$/, "") === list);
      };
      return [...original].filter(
        ([p, v]) =>
          arrived.get(p) !== v &&
          !sameList(p, v) &&
          !reported.some((u) => p === u.field || p.startsWith(`${u.field}.`) || p.startsWith(`${u.field}[`)),
      );
    };
    const acceptedDocs = new Set(acknowledged.objects.flatMap(importedFrom).filter((d) => d !== undefined));
    for (const index of acceptedDocs) {
      const doc = docs[index] as Obj;
      const whole = exportedAs(doc.kind, (doc.metadata as Obj).name);
      if (whole) {
        // One spec may be written as `spec` or as a one-element `specs`: Cilium reads both alike.
        const specsOf = (m: Obj) => [...(m.spec ? [m.spec] : []), ...(Array.isArray(m.specs) ? m.specs : [])];
        const body = (m: Obj) => (doc.specs ? { specs: specsOf(m) } : { spec: m.spec ?? specsOf(m)[0] });
        const lost = lostFields(doc, leaves(body(doc), ""), leaves(body(whole), "")).filter(
          // A peer config's family advertisement selector is carried as the advertisements' peers (the
          // import binds them); the export writes its own selector, and the re-import below must bind
          // the same advertisements to the same peers.
          ([p]) =>
            !(doc.kind === "CiliumBGPPeerConfig" && /^spec\.families\[\d+\]\.advertisements\./.test(p)),
        );
        expect(lost, `fields of document ${index} neither imported nor reported`).toEqual([]);
        continue;
      }
      // Written otherwise (a part of a specs document under its own name): object by object.
      for (const obj of acknowledged.objects.filter((o) => o.origin.document === index)) {
        const exported = parseAllDocuments(exportCiliumYaml([obj]).yaml).map((d) => d.toJS())[0];
        const lost = lostFields(
          doc,
          leaves(at(doc, obj.origin.spec), obj.origin.spec),
          leaves(exported.spec, obj.origin.spec),
        );
        expect(lost, `fields of ${obj.name} neither imported nor reported`).toEqual([]);
      }
    }

    // Accepted without acknowledgement: the policy means what it meant in Cilium.
    const policies = result.objects.filter((o) => o.kind === "NetworkPolicy");
    const byDoc = new Map<number, ImportedObject[]>();
    for (const p of policies) byDoc.set(p.origin.document, [...(byDoc.get(p.origin.document) ?? []), p]);
    for (const [index, objects] of byDoc) {
      const snapshotPolicies = objects.map((o, i) => ({
        id: `p${i}`,
        name: o.name,
        namespace: o.namespace,
        enabled: true,
        version: 1,
        spec: o.spec as SnapshotPolicy["spec"],
      }));
      expect(disagreements(docs[index] as Obj, snapshotPolicies).slice(0, 5)).toEqual([]);
    }

    // Export: Cilium's CRDs accept it, and it imports back as the same objects.
    if (acknowledged.objects.length > 0) {
      const exported = exportCiliumYaml(acknowledged.objects);
      const manifests = parseAllDocuments(exported.yaml).map((d) => d.toJS());
      expect(
        manifests.flatMap((m) => crdProblems(m).map((p) => `${m.kind}/${m.metadata.name} ${p}`)),
      ).toEqual([]);
      const back = importCiliumYaml(exported.yaml, { acknowledgeDifferences: true });
      expect(back.errors).toEqual([]);
      expect(withoutSource(back.objects)).toEqual(withoutSource(acknowledged.objects));
    }
  });
});
