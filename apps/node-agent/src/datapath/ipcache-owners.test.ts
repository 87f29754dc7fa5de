// Owners' claims on ipcache prefixes and the union the kernel map gets (pure; the kernel side is
// features/policy/ipcache-owners.test.ts).
import { describe, expect, it } from "vitest";
import { canonicalPrefix, IpcacheClaims } from "./ipcache-owners";

describe("ipcache claims", () => {
  it("the union takes the control plane's identity over Kubernetes' over the DNS proxy's, whoever claimed first", () => {
    const claims = IpcacheClaims.none
      .withClaims("dns-proxy", [{ prefix: "10.0.0.1", identity: 30 }])
      .withClaims("control-plane", [{ prefix: "10.0.0.1/32", identity: 10 }])
      .withClaims("kubernetes", [
        { prefix: "10.0.0.1", identity: 20 },
        { prefix: "10.0.0.2", identity: 21 },
      ]);
    expect(Object.fromEntries(claims.union())).toEqual({
      "10.0.0.1/32": { identity: 10, owner: "control-plane" },
      "10.0.0.2/32": { identity: 21, owner: "kubernetes" },
    });
    const withoutControlPlane = claims.withClaims("control-plane", []);
    expect(withoutControlPlane.union().get("10.0.0.1/32")).toEqual({ identity: 20, owner: "kubernetes" });
  });

  it("an owner's new claims replace only its own, and leave the claims they were made from as they were", () => {
    const before = IpcacheClaims.none
      .withClaims("control-plane", [{ prefix: "10.0.0.0/8", identity: 16777217 }])
      .withClaims("dns-proxy", [{ prefix: "203.0.113.7", identity: 20971531 }]);
    const after = before.withClaims("dns-proxy", [{ prefix: "203.0.113.8", identity: 20971531 }]);
    expect([...after.union().keys()]).toEqual(["203.0.113.8/32", "10.0.0.0/8"]);
    expect([...before.claimsOf("dns-proxy").keys()]).toEqual(["203.0.113.7/32"]);
  });

  it("compares prefixes canonically and names one that does not parse", () => {
    expect(canonicalPrefix("10.1.2.3/8")).toBe("10.0.0.0/8");
    expect(canonicalPrefix("fd00:0:0::1")).toBe("fd00::1/128");
    expect(() =>
      IpcacheClaims.none.withClaims("dns-proxy", [{ prefix: "10.0.0.0/33", identity: 1 }]),
    ).toThrow('ipcache entry "10.0.0.0/33": bad prefix length in 10.0.0.0/33');
  });

  it("an owner's new claims change only the prefixes whose identity in force moves, by precedence", () => {
    const before = IpcacheClaims.none
      .withClaims("control-plane", [{ prefix: "10.0.0.1/32", identity: 10 }])
      .withClaims("kubernetes", [{ prefix: "10.0.0.2", identity: 21 }])
      .withClaims("dns-proxy", [
        { prefix: "10.0.0.3", identity: 30 },
        { prefix: "10.0.0.4", identity: 31 },
      ]);
    const after = before.withClaims("dns-proxy", [
      // Under a higher owner's claims: nothing in force changes.
      { prefix: "10.0.0.1", identity: 32 },
      { prefix: "10.0.0.2", identity: 33 },
      { prefix: "10.0.0.3", identity: 30 },
      { prefix: "10.0.0.4", identity: 34 },
      { prefix: "10.0.0.5", identity: 35 },
    ]);
    expect(before.changesTo(after, "dns-proxy")).toEqual([
      { prefix: "10.0.0.4/32", before: 31, after: 34 },
      { prefix: "10.0.0.5/32", before: undefined, after: 35 },
    ]);
    // Withdrawn: the DNS proxy's own prefixes go, the ones others hold stay.
    expect(
      after.changesTo(
        IpcacheClaims.none
          .withClaims("control-plane", [{ prefix: "10.0.0.1/32", identity: 10 }])
          .withClaims("kubernetes", [{ prefix: "10.0.0.2", identity: 21 }]),
        "dns-proxy",
      ),
    ).toEqual([
      { prefix: "10.0.0.3/32", before: 30, after: undefined },
      { prefix: "10.0.0.4/32", before: 34, after: undefined },
      { prefix: "10.0.0.5/32", before: 35, after: undefined },
    ]);
  });
});
