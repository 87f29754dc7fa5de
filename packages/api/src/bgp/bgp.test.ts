import { compileNodeState } from "@meridian/model";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSnapshot } from "../agent/snapshot";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

describe("BGP", () => {
  it("stores a peer's MD5 password encrypted and only ever reads back hasPassword", async () => {
    const op = await h.as("operator");
    await op.bgp.instances.create({ name: "tor", spec: { nodeSelector: {}, localASN: 64512 } });
    const peer = await op.bgp.peers.create({
      name: "tor-a",
      spec: { instance: "tor", address: "192.168.100.1", peerASN: 65000, password: "s3cret-md5" },
    });
    expect(peer.spec).toMatchObject({ hasPassword: true, instance: "tor", holdTimeSeconds: 90 });
    expect(JSON.stringify(peer)).not.toContain("s3cret-md5");

    const row = await h.db.bgpPeer.findUniqueOrThrow({ where: { id: peer.id } });
    expect(row.passwordCiphertext).toMatch(/^v1\./);
    expect(JSON.stringify(row)).not.toContain("s3cret-md5");

    // An edit without a password keeps the one set; reads and the audit log never show it.
    const upd = await op.bgp.peers.update({
      id: peer.id,
      version: peer.version,
      spec: { instance: "tor", address: "192.168.100.1", peerASN: 65001 },
    });
    expect(upd.spec.hasPassword).toBe(true);
    const listed = await (await h.as("viewer")).bgp.peers.list({});
    expect(JSON.stringify(listed)).not.toMatch(/s3cret|passwordCiphertext/);
    const rev = await (await h.as("viewer")).audit.get({ number: upd.revision! });
    expect(JSON.stringify(rev)).not.toMatch(/s3cret|passwordCiphertext|v1\./);
    expect(rev.entries[0]?.after).toMatchObject({ hasPassword: true });
  });

  it("a deleted peer comes back with its password on restore, and only a node of the instance can fetch the key", async () => {
    const op = await h.as("operator");
    const peer = await op.bgp.peers.create({
      name: "tor-r",
      spec: { instance: "tor", address: "192.168.100.9", peerASN: 65009, password: "md5-restore" },
    });
    await op.bgp.peers.delete({ id: peer.id, version: peer.version });
    await op.audit.restore({ number: peer.revision });
    expect((await op.bgp.peers.get({ id: peer.id })).spec.hasPassword).toBe(true);

    const admin = await h.as("admin");
    const { secret } = await admin.joinTokens.create({});
    const joined = await (await h.anon()).agent.join({ token: secret, nodeName: "bgp-node" });
    const agent = await h.withToken(joined.credential);
    expect(await agent.agent.bgpPassword({ ref: peer.id })).toEqual({ password: "md5-restore" });

    await op.bgp.instances.create({
      name: "spine",
      spec: { nodeSelector: { matchLabels: { role: "spine" } }, localASN: 64600 },
    });
    const other = await op.bgp.peers.create({
      name: "spine-a",
      spec: { instance: "spine", address: "192.168.200.1", peerASN: 65100, password: "not-yours" },
    });
    const denied = await errorOf(() => agent.agent.bgpPassword({ ref: other.id }));
    const missing = await errorOf(() =>
      agent.agent.bgpPassword({ ref: "00000000-0000-4000-8000-000000000000" }),
    );
    expect(denied).toEqual(missing);
    expect(denied.code).toBe("NOT_FOUND");

    // A peer whose instance selects the node but which the node's state does not carry (disabled)
    // is not the node's to read either: only what its compiled intent names.
    const off = await op.bgp.peers.create({
      name: "tor-off",
      enabled: false,
      spec: { instance: "tor", address: "192.168.100.77", peerASN: 65001, password: "switched-off" },
    });
    expect((await errorOf(() => agent.agent.bgpPassword({ ref: off.id }))).code).toBe("NOT_FOUND");
  });

  it("rejects an out-of-range ASN and a bad keepalive by field", async () => {
    const op = await h.as("operator");
    const err = await errorOf(() =>
      op.bgp.peers.create({
        name: "bad",
        spec: {
          instance: "tor",
          address: "192.168.100.2",
          peerASN: 4294967296,
          holdTimeSeconds: 9,
          keepaliveSeconds: 10,
        },
      }),
    );
    expect(Object.keys(err.fieldErrors ?? {}).sort()).toEqual(["spec.keepaliveSeconds", "spec.peerASN"]);
  });

  it("names the import rule and field that is wrong", async () => {
    const op = await h.as("operator");
    const err = await errorOf(() =>
      op.bgp.peers.create({
        name: "bad-policy",
        spec: {
          instance: "tor",
          address: "192.168.100.4",
          peerASN: 65000,
          importPolicy: {
            rules: [
              { prefix: "10.0.0.0/8", le: 32, action: "accept" },
              { prefix: "172.16.0.0/12", ge: 24, le: 20, action: "accept" },
              { prefix: "192.168.1.1/16", action: "reject" },
              { communities: ["65000:1"], action: "reject", localPreference: 50 },
            ],
          },
        },
      }),
    );
    expect(err.fieldErrors).toEqual({
      "spec.importPolicy.rules.1.le": ["le 20 is less than ge 24: the rule would match nothing"],
      "spec.importPolicy.rules.2.prefix": ["host bits set in 192.168.1.1/16, did you mean 192.168.0.0/16"],
      "spec.importPolicy.rules.3.localPreference": ["localPreference only applies to accepted routes"],
    });
    // RFC 8212: nothing enters the kernel without a policy saying what may.
    const install = await errorOf(() =>
      op.bgp.peers.create({
        name: "bad-install",
        spec: { instance: "tor", address: "192.168.100.4", peerASN: 65000, installRoutes: true },
      }),
    );
    expect(Object.keys(install.fieldErrors ?? {})).toEqual(["spec.importPolicy"]);
  });

  it("import policy and installRoutes reach the desired state; a new password gets a new passwordVersion", async () => {
    const op = await h.as("operator");
    await op.bgp.instances.create({
      name: "edge",
      spec: { nodeSelector: { matchLabels: { edge: "yes" } }, localASN: 64700 },
    });
    await h.db.node.create({ data: { name: "edge-1", labels: { edge: "yes" }, addresses: ["10.1.0.1"] } });
    const importPolicy = {
      rules: [
        {
          prefix: "10.0.0.0/8",
          le: 24,
          communities: ["no-export"],
          action: "accept" as const,
          localPreference: 120,
        },
      ],
      default: "reject" as const,
    };
    const peer = await op.bgp.peers.create({
      name: "edge-a",
      spec: {
        instance: "edge",
        address: "10.1.0.254",
        peerASN: 65070,
        password: "first",
        importPolicy,
        installRoutes: true,
      },
    });
    expect(peer.spec).toMatchObject({ importPolicy, installRoutes: true });
    const desiredPeer = async () =>
      compileNodeState(await loadSnapshot(h.db), "edge-1").bgp.instances.find((i) => i.name === "edge")!
        .peers[0]!;
    const first = await desiredPeer();
    expect(first).toMatchObject({
      hasPassword: true,
      passwordRef: peer.id,
      importPolicy,
      installRoutes: true,
    });
    expect(first.passwordVersion).toMatch(/^[0-9a-f]{16}$/);
    expect(JSON.stringify(first)).not.toContain("first");

    const spec = {
      instance: "edge",
      address: "10.1.0.254",
      peerASN: 65070,
      importPolicy,
      installRoutes: true,
    };
    // The same password again keeps its version (no session reset); a new one changes it.
    const same = await op.bgp.peers.update({
      id: peer.id,
      version: peer.version,
      spec: { ...spec, password: "first" },
    });
    expect((await desiredPeer()).passwordVersion).toBe(first.passwordVersion);
    const changed = await op.bgp.peers.update({
      id: peer.id,
      version: same.version,
      spec: { ...spec, password: "second" },
    });
    const second = await desiredPeer();
    expect(second.passwordVersion).not.toBe(first.passwordVersion);
    // The revision diff shows that the password changed, never the password.
    const rev = await op.audit.get({ number: changed.revision! });
    expect(rev.entries[0]?.after).toMatchObject({ passwordVersion: second.passwordVersion });
    expect(JSON.stringify(rev)).not.toMatch(/second|passwordCiphertext/);
  });

  it("a peer must name an existing instance", async () => {
    const op = await h.as("operator");
    const err = await errorOf(() =>
      op.bgp.peers.create({
        name: "orphan",
        spec: { instance: "nope", address: "192.168.100.3", peerASN: 65000 },
      }),
    );
    expect(err.fieldErrors).toEqual({ "spec.instance": ["no BGP instance named nope"] });
  });

  it("advertisements: service VIPs with communities read back as saved; a bad community is named by field", async () => {
    const op = await h.as("operator");
    const viewer = await h.as("viewer");
    const spec = {
      type: "Service" as const,
      service: { selector: { matchLabels: { expose: "bgp" } }, addresses: ["LoadBalancerIP" as const] },
      communities: ["64512:100"],
    };
    const ad = await op.bgp.advertisements.create({ name: "lb-vips", spec });
    const back = await viewer.bgp.advertisements.get({ id: ad.id });
    expect(back.spec).toMatchObject(spec);
    const bad = await errorOf(() =>
      op.bgp.advertisements.create({ name: "lb-bad", spec: { ...spec, communities: ["64512:70000"] } }),
    );
    expect(bad.code).toBe("BAD_REQUEST");
    expect(Object.keys(bad.fieldErrors ?? {})).toEqual(["spec.communities.0"]);
  });
});
