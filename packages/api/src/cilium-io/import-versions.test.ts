// Re-importing an export must not silently undo someone else's change: the export carries each
// object's version (meridian.io/version), and an import of a stale one is a conflict that names
// who changed it and when. YAML without a version (Cilium's, hand-written) creates or replaces.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

const policySpec = (port: string) => ({
  endpointSelector: { matchLabels: { app: "web" } },
  ingress: [
    {
      fromEndpoints: [{ matchLabels: { app: "lb" } }],
      toPorts: [{ ports: [{ port, protocol: "TCP" as const }] }],
    },
  ],
});

const revisions = () => h.db.revision.count();

describe("Cilium YAML import checks the version an export carries", () => {
  let webId = "";
  let dbId = "";
  let exported = "";

  it("exports every object with its version in the meridian.io/version annotation", async () => {
    const op = await h.as("operator");
    webId = (await op.policies.create({ name: "web", namespace: "shop", spec: policySpec("8080") })).id;
    dbId = (await op.policies.create({ name: "db", namespace: "shop", spec: policySpec("5432") })).id;
    await op.policies.update({ id: webId, version: 1, spec: policySpec("8443") });
    exported = (await (await h.as("viewer")).cilium.export({ kinds: "NetworkPolicy", namespace: "shop" }))
      .yaml;
    expect(exported).toMatch(
      /name: web\n {2}namespace: shop\n {2}annotations:\n {4}meridian.io\/version: "2"/,
    );
    expect(exported).toMatch(
      /name: db\n {2}namespace: shop\n {2}annotations:\n {4}meridian.io\/version: "1"/,
    );
  });

  it("refuses the whole import when one object changed since the export, naming who and when, per object", async () => {
    const admin = await h.as("admin");
    const theirs = await admin.policies.update({ id: webId, version: 2, spec: policySpec("9443") });
    const before = await revisions();
    // The engineer edits both policies in the exported file and imports it.
    const edited = exported
      .replaceAll('port: "8443"', 'port: "443"')
      .replaceAll('port: "5432"', 'port: "5433"');
    const err = await errorOf(async () => (await h.as("operator")).cilium.import({ yaml: edited }));
    expect(err.code).toBe("CONFLICT");
    const messages = err.fieldErrors?.["objects.NetworkPolicy shop/web"] ?? [];
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(`network policy shop/web was changed by ${theirs.updatedBy}`);
    expect(messages[0]).toContain(`at ${theirs.updatedAt.toISOString()}`);
    expect(messages[0]).toContain("now version 3; your YAML was exported at version 2");
    expect(Object.keys(err.fieldErrors ?? {})).toEqual(["objects.NetworkPolicy shop/web"]);
    // All or nothing: db, which did not conflict, was not written either.
    expect(await revisions()).toBe(before);
    const web = await admin.policies.get({ id: webId });
    expect(JSON.stringify(web.spec)).toContain("9443");
    expect(JSON.stringify((await admin.policies.get({ id: dbId })).spec)).toContain('"5432"');
  });

  it("a check (dry run) lists the conflict per object and writes nothing", async () => {
    const edited = exported
      .replaceAll('port: "8443"', 'port: "443"')
      .replaceAll('port: "5432"', 'port: "5433"');
    const before = await revisions();
    const dry = await (await h.as("operator")).cilium.import({ yaml: edited, dryRun: true });
    expect(dry.revision).toBeNull();
    const byName = Object.fromEntries(dry.objects.map((o) => [o.name, o]));
    expect(byName.web).toMatchObject({ action: "conflict", id: webId });
    expect(byName.web?.conflict).toMatch(
      /was changed by .* \(now version 3; your YAML was exported at version 2\)/,
    );
    expect(byName.db).toMatchObject({ action: "would-apply", id: dbId });
    expect(await revisions()).toBe(before);
    expect(JSON.stringify((await (await h.as("admin")).policies.get({ id: dbId })).spec)).toContain('"5432"');
  });

  it("skipConflicts imports the rest as one revision and leaves the conflicting object as it is", async () => {
    const edited = exported
      .replaceAll('port: "8443"', 'port: "443"')
      .replaceAll('port: "5432"', 'port: "5433"');
    const res = await (await h.as("operator")).cilium.import({ yaml: edited, skipConflicts: true });
    const byName = Object.fromEntries(res.objects.map((o) => [o.name, o]));
    expect(byName.web?.action).toBe("conflict");
    expect(byName.web?.conflict).toContain("was changed by");
    expect(byName.db?.action).toBe("updated");
    expect(
      (await (await h.as("viewer")).audit.get({ number: res.revision! })).entries.map((e) => e.entityName),
    ).toEqual(["db"]);
    const admin = await h.as("admin");
    expect(JSON.stringify((await admin.policies.get({ id: webId })).spec)).toContain("9443");
    expect(JSON.stringify((await admin.policies.get({ id: dbId })).spec)).toContain('"5433"');
  });

  it("an import identical to what is stored is unchanged, whatever version it carries", async () => {
    const current = (
      await (await h.as("viewer")).cilium.export({ kinds: "NetworkPolicy", namespace: "shop" })
    ).yaml;
    const stale = current.replace(/meridian.io\/version: "3"/, 'meridian.io/version: "1"');
    const res = await (await h.as("operator")).cilium.import({ yaml: stale });
    expect(res.objects.map((o) => o.action)).toEqual(["unchanged", "unchanged"]);
    expect(res.revision).toBeNull();
  });

  it("YAML without a version (Cilium's, hand-written) replaces as before", async () => {
    const unversioned = exported
      .replace(/ {2}annotations:\n {4}meridian.io\/version: "\d+"\n/g, "")
      .replaceAll('port: "8443"', 'port: "443"');
    expect(unversioned).not.toContain("meridian.io/version");
    const res = await (await h.as("operator")).cilium.import({ yaml: unversioned });
    expect(res.objects.find((o) => o.name === "web")?.action).toBe("updated");
    expect(JSON.stringify((await (await h.as("admin")).policies.get({ id: webId })).spec)).toContain('"443"');
  });

  it("an object deleted since the export is a conflict naming who deleted it; one never seen here is created", async () => {
    const admin = await h.as("admin");
    const db = await admin.policies.get({ id: dbId });
    await admin.policies.delete({ id: dbId, version: db.version });
    const yaml = (await (await h.as("viewer")).cilium.export({ kinds: "NetworkPolicy", namespace: "shop" }))
      .yaml;
    const withDb = `${yaml}---\n${exported.split("---\n").find((d) => d.includes("name: db"))}`;
    const err = await errorOf(async () => (await h.as("operator")).cilium.import({ yaml: withDb }));
    expect(err.code).toBe("CONFLICT");
    expect(err.fieldErrors?.["objects.NetworkPolicy shop/db"]?.[0]).toMatch(
      /network policy shop\/db was deleted by admin@test.local \(token admin token\) at \S+Z \(revision \d+\) after your YAML was exported at version 1/,
    );

    const fromElsewhere = withDb.replaceAll("namespace: shop", "namespace: staging");
    const res = await (await h.as("operator")).cilium.import({ yaml: fromElsewhere });
    expect(res.objects.map((o) => `${o.namespace}/${o.name} ${o.action}`).sort()).toEqual([
      "staging/db created",
      "staging/web created",
    ]);
  });

  it("a BGP peer's version travels on its CiliumBGPPeerConfig, an instance's on its cluster config", async () => {
    const op = await h.as("operator");
    await op.bgp.instances.create({ name: "tor", spec: { nodeSelector: {}, localASN: 64512 } });
    const peer = await op.bgp.peers.create({
      name: "tor-a",
      spec: { instance: "tor", address: "192.168.100.1", peerASN: 65000 },
    });
    const yaml = (await (await h.as("viewer")).cilium.export({ kinds: ["BgpInstance", "BgpPeer"] })).yaml;
    expect(yaml).toMatch(
      /kind: CiliumBGPClusterConfig\nmetadata:\n {2}name: tor\n {2}annotations:\n {4}meridian.io\/version: "1"/,
    );
    expect(yaml).toMatch(
      /kind: CiliumBGPPeerConfig\nmetadata:\n {2}name: tor-a\n {2}annotations:\n {4}meridian.io\/version: "1"/,
    );
    const changed = await (await h.as("admin")).bgp.peers.update({
      id: peer.id,
      version: 1,
      spec: { instance: "tor", address: "192.168.100.1", peerASN: 65000, holdTimeSeconds: 30 },
    });
    const err = await errorOf(() =>
      op.cilium.import({ yaml: yaml.replace("peerASN: 65000", "peerASN: 65001") }),
    );
    expect(err.code).toBe("CONFLICT");
    expect(Object.keys(err.fieldErrors ?? {})).toEqual(["objects.BgpPeer tor-a"]);
    expect(err.fieldErrors?.["objects.BgpPeer tor-a"]?.[0]).toContain(`changed by ${changed.updatedBy}`);
  });

  it("a version that is not a whole number is refused, naming the document and annotation", async () => {
    // The export lists db (document 0) before web (document 1).
    const bad = exported.replace('meridian.io/version: "2"', "meridian.io/version: two");
    const err = await errorOf(async () => (await h.as("operator")).cilium.import({ yaml: bad }));
    expect(err.code).toBe("BAD_REQUEST");
    expect(Object.keys(err.fieldErrors ?? {})).toEqual([
      "yaml.document 1.metadata.annotations.meridian.io/version",
    ]);
    expect(err.message).toContain('"two" is not a version');
  });
});
