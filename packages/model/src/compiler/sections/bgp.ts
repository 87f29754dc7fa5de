// The `bgp` section: the BGP instances that select this node, their peers (a password reference,
// never the password) and per peer the routes of the advertisements that apply; VPN routes carry
// the SIDs of the VRFs the srv6 section serves. A peer whose address is taken on this node goes to
// `problems`. Compiled in ../bgp.ts.
import { z } from "zod";
import { bgpFamilySchema, bgpImportPolicySchema } from "../../spec";
import { compileBgp } from "../bgp";
import type { CompileProblem } from "../types";
import { defineSection } from "./section";
import { srv6Section } from "./srv6";

export const bgpRouteStateSchema = z.strictObject({
  prefix: z.string(),
  advertisement: z.string(),
  communities: z.array(z.string()),
  largeCommunities: z.array(z.string()),
  localPreference: z.number().int().optional(),
  /** For VRF routes (VPNv4/VPNv6). */
  vrf: z.string().optional(),
  routeDistinguisher: z.string().optional(),
  routeTargets: z.array(z.string()).optional(),
  sid: z.string().optional(),
});

export const bgpPeerStateSchema = z.strictObject({
  name: z.string(),
  address: z.string(),
  peerASN: z.number().int(),
  port: z.number().int(),
  holdTimeSeconds: z.number().int(),
  keepaliveSeconds: z.number().int(),
  connectRetrySeconds: z.number().int(),
  ebgpMultihop: z.number().int().optional(),
  gracefulRestart: z.strictObject({ enabled: z.boolean(), restartTimeSeconds: z.number().int() }).optional(),
  families: z.array(bgpFamilySchema),
  hasPassword: z.boolean(),
  passwordRef: z.string().optional(),
  /** Changes whenever the password is set again (from the stored IV: nothing about the password). */
  passwordVersion: z.string().optional(),
  /** As in the peer spec; absent: every route the peer sends is kept for the looking glass. */
  importPolicy: bgpImportPolicySchema.optional(),
  /** Install accepted unicast routes into the kernel; absent means false. */
  installRoutes: z.boolean().optional(),
  routes: z.array(bgpRouteStateSchema),
});

export const bgpInstanceStateSchema = z.strictObject({
  name: z.string(),
  localASN: z.number().int(),
  routerID: z.string().optional(),
  peers: z.array(bgpPeerStateSchema),
});

export const bgpSection = defineSection({
  name: "bgp",
  keys: ["bgp"],
  schema: z.strictObject({ bgp: z.strictObject({ instances: z.array(bgpInstanceStateSchema) }) }),
  compile(ctx) {
    const { vrfs } = ctx.output(srv6Section).srv6;
    const problems: CompileProblem[] = [];
    const instances = compileBgp(ctx.snapshot, ctx.node, vrfs, problems);
    for (const p of problems) ctx.problem(p);
    return { bgp: { instances } };
  },
});
