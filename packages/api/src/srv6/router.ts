import {
  canonicalCidr,
  srv6LocatorPoolSpecSchema,
  srv6PolicySpecSchema,
  srv6VrfSpecSchema,
} from "@meridian/model";
import { defineResource } from "../resources/define";
import { createTRPCRouter, viewerProcedure } from "../trpc";
import { srv6Overview, srv6OverviewOutput } from "./overview";
import { validateLocatorPool, validateSrv6Policy, validateVrf } from "./service";

export const srv6LocatorPoolsRouter = defineResource({
  entityType: "Srv6LocatorPool",
  label: "SRv6 locator pool",
  path: "srv6/locator-pools",
  tag: "srv6",
  delegate: (tx) => tx.srv6LocatorPool,
  spec: srv6LocatorPoolSpecSchema,
  columns: (spec) => ({ prefix: canonicalCidr(spec.prefix) }),
  validate: (tx, spec, self) => validateLocatorPool(tx, spec, self),
});

export const srv6VrfsRouter = defineResource({
  entityType: "Srv6Vrf",
  dependsOn: ["Srv6LocatorPool"],
  label: "SRv6 VRF",
  path: "srv6/vrfs",
  tag: "srv6",
  delegate: (tx) => tx.srv6Vrf,
  spec: srv6VrfSpecSchema,
  columns: (spec) => ({ vrfId: BigInt(spec.vrfID) }),
  validate: (tx, spec, self) => validateVrf(tx, spec, self),
  // A concurrent writer can still win the race past validate; the unique index has the last word.
  uniqueField: (spec) => ({ path: ["spec", "vrfID"], message: `VRF ID ${spec.vrfID} is already in use` }),
});

export const srv6PoliciesRouter = defineResource({
  entityType: "Srv6Policy",
  dependsOn: ["Srv6Vrf"],
  label: "SRv6 policy",
  path: "srv6/policies",
  tag: "srv6",
  delegate: (tx) => tx.srv6Policy,
  spec: srv6PolicySpecSchema,
  columns: (spec) => ({ vrfName: spec.vrf }),
  validate: (tx, spec) => validateSrv6Policy(tx, spec),
});

export const srv6Router = createTRPCRouter({
  /** Intent (allocated locators and SIDs, static policies) beside what each node's agent reports. */
  overview: viewerProcedure
    .meta({ openapi: { method: "GET", path: "/srv6/overview", tags: ["srv6"] } })
    .output(srv6OverviewOutput)
    .query(({ ctx }) => srv6Overview(ctx.db)),
  locatorPools: srv6LocatorPoolsRouter,
  vrfs: srv6VrfsRouter,
  policies: srv6PoliciesRouter,
});
