// The `srv6` section: the node's locators, the VRFs it serves (each with its End.DT* SID) and
// their static SR policies; intent it cannot compile (a pool out of room, a VRF ID too wide) goes
// to `problems`. Compiled in ../srv6.ts.
import { z } from "zod";
import { compileSrv6 } from "../srv6";
import { defineSection } from "./section";

export const srv6VrfStateSchema = z.strictObject({
  name: z.string(),
  vrfID: z.number().int(),
  behavior: z.enum(["End.DT4", "End.DT6", "End.DT46"]),
  encapMode: z.enum(["HEncaps", "HEncapsRed"]),
  sid: z.string(),
  routeDistinguisher: z.string().optional(),
  importRouteTargets: z.array(z.string()),
  exportRouteTargets: z.array(z.string()),
  memberEndpoints: z.array(z.string()),
});

export const srv6Section = defineSection({
  name: "srv6",
  keys: ["srv6"],
  schema: z.strictObject({
    srv6: z.strictObject({
      locators: z.array(
        z.strictObject({
          pool: z.string(),
          locator: z.string(),
          structure: z.strictObject({
            locatorBlockLength: z.number().int(),
            locatorNodeLength: z.number().int(),
            functionLength: z.number().int(),
            argumentLength: z.number().int(),
          }),
        }),
      ),
      vrfs: z.array(srv6VrfStateSchema),
      policies: z.array(
        z.strictObject({
          name: z.string(),
          vrf: z.string(),
          vrfID: z.number().int(),
          destination: z.string(),
          segments: z.array(z.string()),
        }),
      ),
    }),
  }),
  compile(ctx) {
    const { locators, vrfs, policies, problems } = compileSrv6(ctx.snapshot, ctx.node.name);
    for (const p of problems) ctx.problem(p);
    return { srv6: { locators, vrfs, policies } };
  },
});
