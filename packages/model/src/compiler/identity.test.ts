// Node-local identity numbers: what flows, the ipcache and what-if show for CIDR and FQDN rules.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  allocateLocalIdentities,
  CIDR_IDENTITY_BASE,
  FQDN_IDENTITY_BASE,
  isLocalIdentity,
  RESERVED_IDENTITY_NAMES,
  ReservedIdentity,
} from "./identity";

const RANGE = 1 << 22;
const slotOf = (key: string) => createHash("sha256").update(key).digest().readUInt32BE(0) % RANGE;

describe("local identities", () => {
  it("live above 2^24, CIDRs in the first 2^22 numbers and FQDN selectors in the next", () => {
    expect(CIDR_IDENTITY_BASE).toBe(2 ** 24);
    expect(FQDN_IDENTITY_BASE).toBe(2 ** 24 + 2 ** 22);
    expect([2 ** 24 - 1, 2 ** 24, FQDN_IDENTITY_BASE].map(isLocalIdentity)).toEqual([false, true, true]);
    const ids = allocateLocalIdentities(["10.0.0.0/8", "192.0.2.0/24"], CIDR_IDENTITY_BASE);
    expect(ids.get("10.0.0.0/8")).toBe(CIDR_IDENTITY_BASE + slotOf("10.0.0.0/8"));
    expect(ids.get("192.0.2.0/24")).toBe(CIDR_IDENTITY_BASE + slotOf("192.0.2.0/24"));
  });

  it("depend only on the set of keys: order and repeats change nothing", () => {
    const a = allocateLocalIdentities(["b", "a", "c", "a"], FQDN_IDENTITY_BASE);
    const b = allocateLocalIdentities(["c", "b", "a"], FQDN_IDENTITY_BASE);
    expect([...a.entries()]).toEqual([...b.entries()]);
    expect([...a.keys()]).toEqual(["a", "b", "c"]);
  });

  it("a hash collision takes the next free number, given to the key later in sort order", () => {
    // Find two keys whose hashes share a slot (a few thousand keys suffice for 2^22 slots).
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; !pair; i++) {
      const key = `k${i}`;
      const other = seen.get(slotOf(key));
      if (other) pair = [other, key].sort() as [string, string];
      else seen.set(slotOf(key), key);
    }
    const [first, second] = pair;
    const ids = allocateLocalIdentities([second, first], CIDR_IDENTITY_BASE);
    expect(ids.get(first)).toBe(CIDR_IDENTITY_BASE + slotOf(first));
    expect(ids.get(second)).toBe(CIDR_IDENTITY_BASE + ((slotOf(first) + 1) % RANGE));
  });
});

describe("reserved identities", () => {
  it("carry Cilium's numbers and names, so flows read the same in both products", () => {
    expect(ReservedIdentity).toMatchObject({ any: 0, host: 1, world: 2, remoteNode: 6, clusterPod: 128 });
    expect(RESERVED_IDENTITY_NAMES).toEqual({
      0: "any",
      1: "reserved:host",
      2: "reserved:world",
      3: "reserved:unmanaged",
      4: "reserved:health",
      5: "reserved:init",
      6: "reserved:remote-node",
      7: "reserved:kube-apiserver",
      8: "reserved:ingress",
      128: "reserved:cluster-pod",
    });
  });
});
