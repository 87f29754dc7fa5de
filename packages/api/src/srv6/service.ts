// Cross-object SRv6 checks: locator pools must not overlap, VRF IDs are unique, VRFs and policies
// must name objects that exist, and no change may strand a stored allocation (a pool shrunk below
// the locators or SIDs it has handed out) or fix a SID outside its node's locator.
import {
  cidrOverlaps,
  formatIp,
  functionCapacity,
  locatorCapacity,
  parseCidr,
  type Srv6LocatorPoolSpec,
  type Srv6PolicySpec,
  type Srv6VrfSpec,
  sidInPool,
} from "@meridian/model";
import { type FieldProblem, fieldError, fieldErrors } from "../errors";
import type { Tx } from "../revisions/commit";

export async function validateLocatorPool(
  tx: Tx,
  spec: Srv6LocatorPoolSpec,
  self: { id: string | null; name: string },
) {
  const others = await tx.srv6LocatorPool.findMany({
    where: self.id ? { id: { not: self.id } } : {},
    select: { name: true, prefix: true },
  });
  const clash = others.find((o) => cidrOverlaps(o.prefix, spec.prefix));
  if (clash) {
    throw fieldError(
      ["spec", "prefix"],
      `locator prefix ${spec.prefix} overlaps ${clash.prefix} of locator pool ${clash.name}`,
    );
  }
  if (!self.id) return;
  const slots = locatorCapacity(spec);
  const highest = await tx.srv6LocatorAllocation.findFirst({
    where: { poolId: self.id },
    orderBy: { slot: "desc" },
    select: { slot: true, node: { select: { name: true } } },
  });
  if (highest && highest.slot >= slots)
    throw fieldError(
      ["spec", "locatorLength"],
      `node ${highest.node.name} holds locator number ${highest.slot} of this pool; /${spec.locatorLength} locators under ${spec.prefix} are only ${slots}`,
    );
  const sids = functionCapacity(spec);
  const { functionLength } = spec.structure;
  const widest = await tx.srv6SidAllocation.findFirst({
    where: { poolId: self.id },
    orderBy: { function: "desc" },
    select: { function: true, node: { select: { name: true } }, vrf: { select: { name: true } } },
  });
  if (widest && widest.function > sids)
    throw fieldError(
      ["spec", "structure", "functionLength"],
      `VRF ${widest.vrf.name} holds SID function ${widest.function} on node ${widest.node.name}; functionLength ${functionLength} holds functions up to ${sids}`,
    );
  const vrfs = await tx.srv6Vrf.count({ where: { spec: { path: ["locatorPool"], equals: self.name } } });
  if (vrfs > sids)
    throw fieldError(
      ["spec", "structure", "functionLength"],
      `${vrfs} VRFs take their SIDs from this pool; functionLength ${functionLength} gives each node only ${sids}`,
    );
}

export async function validateVrf(tx: Tx, spec: Srv6VrfSpec, self: { id: string | null; name: string }) {
  const pool = await tx.srv6LocatorPool.findUnique({ where: { name: spec.locatorPool } });
  if (!pool) throw fieldError(["spec", "locatorPool"], `no SRv6 locator pool named ${spec.locatorPool}`);
  const same = await tx.srv6Vrf.findFirst({
    where: { vrfId: BigInt(spec.vrfID), ...(self.id ? { id: { not: self.id } } : {}) },
  });
  if (same) throw fieldError(["spec", "vrfID"], `VRF ID ${spec.vrfID} is already used by VRF ${same.name}`);
  const poolSpec = pool.spec as Srv6LocatorPoolSpec;
  const sids = functionCapacity(poolSpec);
  const sharing = await tx.srv6Vrf.count({
    where: {
      spec: { path: ["locatorPool"], equals: pool.name },
      ...(self.id ? { id: { not: self.id } } : {}),
    },
  });
  if (sharing + 1 > sids)
    throw fieldError(
      ["spec", "locatorPool"],
      `locator pool ${pool.name} gives each node ${sids} SIDs (structure.functionLength ${poolSpec.structure.functionLength}) and ${sharing} other VRFs hold them all`,
    );
  const problems = await staticSidProblems(tx, spec, pool, self.id);
  if (problems.length > 0) throw fieldErrors(problems);
}

/** Each static SID inside the pool, inside its node's stored locator, and not another VRF's SID. */
async function staticSidProblems(
  tx: Tx,
  spec: Srv6VrfSpec,
  pool: { id: string; name: string; spec: unknown },
  selfId: string | null,
): Promise<FieldProblem[]> {
  const poolSpec = pool.spec as Srv6LocatorPoolSpec;
  const out: FieldProblem[] = [];
  for (const [i, fixed] of (spec.staticSids ?? []).entries()) {
    const path = ["spec", "staticSids", i, "sid"];
    const at = sidInPool(poolSpec, fixed.sid);
    if ("problem" in at) {
      out.push({ path, message: `${at.problem} (locator pool ${pool.name})` });
      continue;
    }
    const node = await tx.node.findUnique({ where: { name: fixed.node }, select: { id: true } });
    if (!node) continue; // checked against its locator once the node exists and gets one
    const locator = await tx.srv6LocatorAllocation.findUnique({
      where: { nodeId_poolId: { nodeId: node.id, poolId: pool.id } },
    });
    if (locator && BigInt(locator.slot) !== at.slot) {
      const prefix = parseCidr(poolSpec.prefix)!;
      const network = prefix.network | (BigInt(locator.slot) << BigInt(128 - poolSpec.locatorLength));
      out.push({
        path,
        message: `SID ${fixed.sid} is outside node ${fixed.node}'s locator ${formatIp(6, network)}/${poolSpec.locatorLength} of pool ${pool.name}`,
      });
      continue;
    }
    const holder = await tx.srv6SidAllocation.findFirst({
      where: {
        nodeId: node.id,
        poolId: pool.id,
        function: Number(at.function),
        ...(selfId ? { vrfRowId: { not: selfId } } : {}),
      },
      select: { vrf: { select: { name: true } } },
    });
    if (holder)
      out.push({
        path,
        message: `SID ${fixed.sid} is already the SID of VRF ${holder.vrf.name} on node ${fixed.node}`,
      });
  }
  return out;
}

export async function validateSrv6Policy(tx: Tx, spec: Srv6PolicySpec) {
  const vrf = await tx.srv6Vrf.findUnique({ where: { name: spec.vrf } });
  if (!vrf) throw fieldError(["spec", "vrf"], `no SRv6 VRF named ${spec.vrf}`);
}
