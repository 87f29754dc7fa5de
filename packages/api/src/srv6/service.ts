// Cross-object SRv6 checks: locator pools must not overlap, VRF IDs are unique, and VRFs and
// policies must name objects that exist.
import { fieldError } from "../errors";
import type { Tx } from "../revisions/commit";
import { cidrOverlaps, type Srv6LocatorPoolSpec, type Srv6PolicySpec, type Srv6VrfSpec } from "../spec";

export async function validateLocatorPool(tx: Tx, spec: Srv6LocatorPoolSpec, selfId: string | null) {
  const others = await tx.srv6LocatorPool.findMany({
    where: selfId ? { id: { not: selfId } } : {},
    select: { name: true, prefix: true },
  });
  const clash = others.find((o) => cidrOverlaps(o.prefix, spec.prefix));
  if (clash) {
    throw fieldError(
      ["spec", "prefix"],
      `locator prefix ${spec.prefix} overlaps ${clash.prefix} of locator pool ${clash.name}`,
    );
  }
}

export async function validateVrf(tx: Tx, spec: Srv6VrfSpec, selfId: string | null) {
  const pool = await tx.srv6LocatorPool.findUnique({ where: { name: spec.locatorPool } });
  if (!pool) throw fieldError(["spec", "locatorPool"], `no SRv6 locator pool named ${spec.locatorPool}`);
  const same = await tx.srv6Vrf.findFirst({
    where: { vrfId: BigInt(spec.vrfID), ...(selfId ? { id: { not: selfId } } : {}) },
  });
  if (same) throw fieldError(["spec", "vrfID"], `VRF ID ${spec.vrfID} is already used by VRF ${same.name}`);
}

export async function validateSrv6Policy(tx: Tx, spec: Srv6PolicySpec) {
  const vrf = await tx.srv6Vrf.findUnique({ where: { name: spec.vrf } });
  if (!vrf) throw fieldError(["spec", "vrf"], `no SRv6 VRF named ${spec.vrf}`);
}
