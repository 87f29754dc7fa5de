// The agent channel: join once with a join token, then — with the node credential — follow
// desired state over SSE and report status, heartbeats, DNS events, flows and endpoints.
// The node is always the credential's node; inputs cannot point at another one.

import type { ClusterSnapshot } from "@meridian/model";
import {
  changedSections,
  cidrContains,
  type DesiredStateEvent,
  desiredStateInput,
  dnsEventSchema,
  flowSummarySchema,
  heartbeatInput,
  joinInput,
  joinOutput,
  reportBgpRoutesInput,
  reportEndpointsInput,
  reportStatusInput,
  sectionFingerprints,
  UnknownNodeError,
} from "@meridian/model";
import { TRPCError, tracked } from "@trpc/server";
import { z } from "zod";
import { hashSecret, newSecret } from "../auth/crypto";
import { decryptSecret } from "../auth/secret-box";
import { storeBgpRoutes } from "../bgp/looking-glass";
import { upsertEndpoint } from "../endpoints/service";
import { fieldError } from "../errors";
import { flowRetentionMs, pruneFlows } from "../flows/service";
import { type InventoryDeps, inventoryChangeAffects, inventoryDeps } from "../inventory/affects";
import { commitInventory } from "../inventory/commit";
import { apiMetrics } from "../metrics/registry";
import { assertAddressesFree, assertNoPodCidrOverlap, splitPodCidrs } from "../nodes/service";
import { commitChange } from "../revisions/commit";
import { asPlainJson } from "../transformer";
import { createTRPCRouter, nodeProcedure, publicProcedure } from "../trpc";
import { feedFor, STATUS_CHANNEL, waitForChange } from "./change-feed";
import { compileFor, latestSnapshot } from "./desired-state";
import { heartbeatWriter } from "./heartbeats";
import { loadSnapshot } from "./snapshot";

function assertOwnNode(own: string, claimed: string | undefined) {
  if (claimed !== undefined && claimed !== own) {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: `this credential belongs to node ${own}, not ${claimed}`,
    });
  }
}

// How often a quiet subscription re-checks the feed even without a notification.
const RECHECK_MS = 30_000;
// How long an inventory-only wake-up waits for more pod starts before compiling.
const INVENTORY_COALESCE_MS = 50;
// How long a subscriber waits before reading the model again after a failed read.
const SNAPSHOT_RETRY_MS = 500;

let lastFlowPrune = 0;
/** DNS query events a node keeps (agent.reportDnsEvents prunes older ones). */
const DNS_EVENTS_KEPT_MS = 24 * 3600_000;

export const agentRouter = createTRPCRouter({
  join: publicProcedure
    .meta({ openapi: { method: "POST", path: "/agent/join", tags: ["agent"] } })
    .input(joinInput)
    .output(joinOutput)
    .mutation(async ({ ctx, input }) => {
      const invalid = new TRPCError({
        code: "UNAUTHORIZED",
        message: "join token is invalid, expired or already used",
      });
      if (!input.token.startsWith("mrd_join_")) throw invalid;
      const { secret, hash } = newSecret("node");
      const actor = { kind: "node" as const, id: null, name: `node ${input.nodeName} (join)` };
      const { value, revision } = await commitChange(
        ctx.db,
        actor,
        `node ${input.nodeName} joined`,
        async (tx, rec) => {
          // The conditional update is the one-time guarantee: two agents racing on one token
          // cannot both see usedAt = null here.
          const claimed = await tx.joinToken.updateMany({
            where: { tokenHash: hashSecret(input.token), usedAt: null, expiresAt: { gt: new Date() } },
            data: { usedAt: new Date(), usedByNode: input.nodeName },
          });
          if (claimed.count !== 1) throw invalid;
          const token = await tx.joinToken.findUniqueOrThrow({
            where: { tokenHash: hashSecret(input.token) },
          });
          if (token.nodeName && token.nodeName !== input.nodeName) {
            throw new TRPCError({
              code: "FORBIDDEN",
              message: `this join token is for node ${token.nodeName}`,
            });
          }
          const before = await tx.node.findUnique({ where: { name: input.nodeName } });
          // A joined node keeps its credential until an admin revokes it: a join token, scoped or
          // not, never takes over a node that is running.
          if (before?.credentialHash) {
            throw new TRPCError({
              code: "CONFLICT",
              message: `node ${input.nodeName} is already joined; an admin must revoke its credential (nodes.revokeCredential, or Revoke on the node's page) before it can join again`,
            });
          }
          // The agent says what it has (its PodCIDRs, its addresses) only for a node nobody has
          // described yet; what an admin registered stays. Labels are never the agent's to set.
          const podCIDRs =
            before && (before.podCIDRv4.length || before.podCIDRv6.length) ? undefined : input.podCIDRs;
          const addresses = before?.addresses.length ? undefined : input.addresses;
          if (podCIDRs) await assertNoPodCidrOverlap(tx, input.nodeName, podCIDRs);
          if (addresses) await assertAddressesFree(tx, input.nodeName, addresses);
          const data = {
            joinState: "joined" as const,
            credentialHash: hash,
            joinedAt: new Date(),
            agentVersion: input.agentVersion ?? null,
            updatedBy: actor.name,
            ...(addresses ? { addresses } : {}),
            ...(podCIDRs ? splitPodCidrs(podCIDRs) : {}),
          };
          const after = before
            ? await tx.node.update({ where: { id: before.id }, data: { ...data, version: { increment: 1 } } })
            : await tx.node.create({ data: { name: input.nodeName, ...data } });
          rec.record({
            entityType: "Node",
            entityId: after.id,
            entityName: after.name,
            action: before ? "update" : "create",
            before,
            after,
          });
          return after;
        },
      );
      return { nodeId: value.id, nodeName: value.name, credential: secret, revision: revision! };
    }),

  /**
   * Desired state as an SSE subscription (see ./events.ts). The first event is a `snapshot`
   * (unless the agent resumes with the current content hash); then one event per revision: a
   * `delta` with the sections that changed for this node, or `unchanged`, so every agent can
   * acknowledge every revision. Event ids are revisions, so httpSubscriptionLink resumes where it
   * left off; a resume from a state the server did not send starts with a `snapshot`.
   */
  desiredState: nodeProcedure.input(desiredStateInput).subscription(async function* ({ ctx, input, signal }) {
    assertOwnNode(ctx.caller.nodeName, input?.nodeName);
    const feed = feedFor(ctx);
    if (!feed)
      throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "this API process has no change feed" });
    await feed.start();
    const nodeName = ctx.caller.nodeName;
    const resumeFrom = input?.lastEventId !== undefined ? Number(input.lastEventId) : input?.lastRevision;
    let sentRevision = resumeFrom ?? -1;
    let sentInventory = -1;
    // The snapshot this node's state was last compiled from, and what of the inventory it read.
    let compiledFrom: ClusterSnapshot | null = null;
    let deps: InventoryDeps | null = null;
    let sentHash = input?.lastContentHash ?? null;
    // What this agent holds, section by section; null until we have sent it a full state.
    let held: ReturnType<typeof sectionFingerprints> | null = null;
    let first = true;
    const connected = apiMetrics().connectedAgents;
    connected.inc();
    try {
      while (!signal?.aborted) {
        if (!first) {
          const changed = await waitForChange(
            feed,
            { revision: sentRevision, inventory: sentInventory },
            RECHECK_MS,
            signal,
          );
          if (signal?.aborted) return;
          if (!changed) continue;
          // Inventory only (pods starting and stopping): let a burst settle into one round.
          if (feed.latest <= sentRevision) await new Promise((r) => setTimeout(r, INVENTORY_COALESCE_MS));
        }
        let snapshot: ClusterSnapshot;
        try {
          snapshot = await latestSnapshot(ctx.db, feed);
        } catch {
          // The database is busy or away for a moment: keep the stream, try again shortly (the
          // agent keeps what it has meanwhile). Ending it would send every agent to reconnect at once.
          await new Promise((r) => setTimeout(r, SNAPSHOT_RETRY_MS));
          continue;
        }
        // The same intent and an inventory change this node's state provably does not depend on:
        // nothing to compile, nothing to send (inventory/affects.ts).
        if (
          compiledFrom &&
          deps &&
          snapshot.revision === compiledFrom.revision &&
          !inventoryChangeAffects(compiledFrom, snapshot, nodeName, deps)
        ) {
          compiledFrom = snapshot;
          sentInventory = Math.max(sentInventory, snapshot.inventory ?? 0);
          continue;
        }
        // Every subscriber wakes on the same snapshot: take turns with I/O (heartbeats, SSE writes)
        // between nodes' compiles instead of compiling all of them in one turn of the event loop.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (signal?.aborted) return;
        let state: ReturnType<typeof compileFor>;
        try {
          state = compileFor(snapshot, nodeName);
        } catch (err) {
          if (err instanceof UnknownNodeError) {
            throw new TRPCError({ code: "NOT_FOUND", message: `node ${nodeName} is no longer registered` });
          }
          throw err;
        }
        compiledFrom = snapshot;
        deps = inventoryDeps(state);
        const revision = snapshot.revision;
        const { contentHash } = state;
        let event: DesiredStateEvent | null = null;
        if (state.contentHash === sentHash) {
          if (revision > sentRevision) event = { type: "unchanged", revision, contentHash };
        } else if (held && sentHash) {
          const now = sectionFingerprints(state);
          event = {
            type: "delta",
            revision,
            contentHash,
            baseContentHash: sentHash,
            changed: changedSections(state, now, held),
          };
          held = now;
        } else {
          // First contact, or a resume from a state we never saw: send it whole.
          event = { type: "snapshot", revision, contentHash, state };
          held = sectionFingerprints(state);
        }
        if (first && resumeFrom !== undefined && state.contentHash === sentHash) {
          // The agent resumed with exactly this state: keep what it has, learn its sections lazily.
          held = sectionFingerprints(state);
        }
        first = false;
        sentInventory = Math.max(sentInventory, snapshot.inventory ?? 0);
        sentRevision = Math.max(sentRevision, revision);
        sentHash = contentHash;
        if (event) yield tracked(String(revision), asPlainJson(event));
      }
    } finally {
      connected.dec();
    }
  }),

  heartbeat: nodeProcedure
    .input(heartbeatInput)
    .output(z.object({ ok: z.literal(true), serverTime: z.date() }))
    .mutation(async ({ ctx, input }) => {
      assertOwnNode(ctx.caller.nodeName, input.nodeName);
      const now = new Date();
      // A thousand agents acknowledge every revision, so this is the hot path: batched writes.
      await heartbeatWriter(ctx.db).write({
        nodeId: ctx.caller.nodeId,
        at: now,
        appliedRevision: input.appliedRevision,
        agentVersion: input.agentVersion,
      });
      return { ok: true as const, serverTime: now };
    }),

  reportStatus: nodeProcedure
    .input(reportStatusInput)
    .output(z.object({ ok: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      assertOwnNode(ctx.caller.nodeName, input.nodeName);
      const nodeId = ctx.caller.nodeId;
      const now = new Date();
      await ctx.db.$transaction([
        ctx.db.node.update({
          where: { id: nodeId },
          data: {
            lastHeartbeatAt: now,
            ...(input.appliedRevision !== undefined ? { appliedRevision: input.appliedRevision } : {}),
            ...(input.agentVersion ? { agentVersion: input.agentVersion } : {}),
            lastStatus: {
              at: now.toISOString(),
              appliedRevision: input.appliedRevision ?? null,
              contentHash: input.contentHash ?? null,
              components: input.components.map((c) => ({
                component: c.component,
                state: c.state,
                message: c.message,
              })),
              ...(input.summary ? { summary: input.summary } : {}),
            } as object,
          },
        }),
        ...input.components.map((c) =>
          ctx.db.nodeComponentStatus.upsert({
            where: { nodeId_component: { nodeId, component: c.component } },
            create: {
              nodeId,
              component: c.component,
              state: c.state,
              message: c.message,
              detail: c.detail as object,
              revision: input.appliedRevision ?? null,
            },
            update: {
              state: c.state,
              message: c.message,
              detail: c.detail as object,
              revision: input.appliedRevision ?? null,
            },
          }),
        ),
        ctx.db.$executeRaw`SELECT pg_notify(${STATUS_CHANNEL}, ${ctx.caller.nodeName})`,
      ]);
      return { ok: true as const };
    }),

  /**
   * The BGP looking glass of this node's peers (see ../bgp/looking-glass-schemas.ts): each listed
   * peer's snapshot replaces the stored one; with `configuredPeers`, other peers' are deleted.
   */
  reportBgpRoutes: nodeProcedure
    .input(reportBgpRoutesInput)
    .output(z.object({ stored: z.number().int(), removed: z.number().int() }))
    .mutation(async ({ ctx, input }) => {
      assertOwnNode(ctx.caller.nodeName, input.nodeName);
      return storeBgpRoutes(ctx.db, { id: ctx.caller.nodeId, name: ctx.caller.nodeName }, input);
    }),

  reportDnsEvents: nodeProcedure
    .input(z.object({ events: z.array(dnsEventSchema).max(1000) }))
    .output(z.object({ accepted: z.number().int() }))
    .mutation(async ({ ctx, input }) => {
      const r = await ctx.db.dnsEvent.createMany({
        data: input.events.map(({ at, ...data }) => ({ nodeId: ctx.caller.nodeId, at, data })),
      });
      // Wakes status.live, so the DNS page's log and the DNS health tiles' per-minute rates re-render.
      if (r.count > 0) await ctx.db.$executeRaw`SELECT pg_notify(${STATUS_CHANNEL}, ${ctx.caller.nodeName})`;
      // The console reads the recent ones (dns.overview): a node keeps its last day of queries.
      await ctx.db.dnsEvent.deleteMany({
        where: { nodeId: ctx.caller.nodeId, at: { lt: new Date(Date.now() - DNS_EVENTS_KEPT_MS) } },
      });
      return { accepted: r.count };
    }),

  reportFlows: nodeProcedure
    .input(z.object({ flows: z.array(flowSummarySchema).max(5000) }))
    .output(z.object({ accepted: z.number().int() }))
    .mutation(async ({ ctx, input }) => {
      const r = await ctx.db.flowSummary.createMany({
        data: input.flows.map(({ at, ...data }) => ({ nodeId: ctx.caller.nodeId, at, data })),
      });
      // Wakes status.live, so the console's Flows page and drop tiles re-render with the new window.
      if (r.count > 0) await ctx.db.$executeRaw`SELECT pg_notify(${STATUS_CHANNEL}, ${ctx.caller.nodeName})`;
      // Bounded history (MERIDIAN_FLOW_RETENTION_HOURS), pruned on ingest at most once a minute.
      if (Date.now() - lastFlowPrune > 60_000) {
        lastFlowPrune = Date.now();
        await pruneFlows(ctx.db, flowRetentionMs());
      }
      return { accepted: r.count };
    }),

  /**
   * The node's full endpoint inventory (from CNI and Kubernetes); identities are allocated here.
   * Inventory, not intent: no revision and no audit row (inventory/commit.ts). The nodes whose
   * state it changes get a new state; the others hear nothing.
   */
  reportEndpoints: nodeProcedure
    .input(reportEndpointsInput)
    .output(
      z.object({
        /** Always null: inventory makes no revision (kept for agents that read it). */
        revision: z.null(),
        inventoryGeneration: z.number().int(),
        endpoints: z.array(z.object({ namespace: z.string(), name: z.string(), identity: z.number().int() })),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const none = { record() {} };
      const { value, generation } = await commitInventory(ctx.db, async (tx) => {
        // A node speaks for the pods in its own PodCIDRs only: an endpoint elsewhere would put
        // its labels (and so its identity) on another node's pod in every node's ipcache.
        const self = await tx.node.findUniqueOrThrow({
          where: { id: ctx.caller.nodeId },
          select: { podCIDRv4: true, podCIDRv6: true },
        });
        const podCidrs = [...self.podCIDRv4, ...self.podCIDRv6];
        for (const [i, ep] of input.endpoints.entries()) {
          for (const field of ["ipv4", "ipv6"] as const) {
            const ip = ep[field];
            if (ip && !podCidrs.some((c) => cidrContains(c, ip))) {
              throw fieldError(
                ["endpoints", i, field],
                `${ip} is outside node ${ctx.caller.nodeName}'s PodCIDRs (${podCidrs.join(", ") || "none"})`,
              );
            }
          }
        }
        const out = [];
        for (const [i, ep] of input.endpoints.entries()) {
          const owner = await tx.endpoint.findUnique({
            where: { namespace_name: { namespace: ep.namespace, name: ep.name } },
            include: { node: true },
          });
          if (owner && owner.nodeId !== ctx.caller.nodeId) {
            throw fieldError(
              ["endpoints", i],
              `endpoint ${ep.namespace}/${ep.name} belongs to node ${owner.node.name}`,
            );
          }
          const row = await upsertEndpoint(
            tx,
            none,
            { ...ep, node: ctx.caller.nodeName },
            ctx.actor.name,
            ctx.caller.nodeId,
          );
          out.push({ namespace: row.namespace, name: row.name, identity: row.identityNumber });
        }
        const keep = new Set(input.endpoints.map((e) => `${e.namespace}/${e.name}`));
        const stale = (
          await tx.endpoint.findMany({
            where: { nodeId: ctx.caller.nodeId },
            select: { id: true, namespace: true, name: true },
          })
        ).filter((e) => !keep.has(`${e.namespace}/${e.name}`));
        if (stale.length > 0) await tx.endpoint.deleteMany({ where: { id: { in: stale.map((e) => e.id) } } });
        return out;
      });
      return { revision: null, inventoryGeneration: generation, endpoints: value };
    }),

  /**
   * The MD5 key behind a desired state's `passwordRef`: only for a peer that this node's own
   * desired state, compiled now from what admins and operators configured, names.
   */
  bgpPassword: nodeProcedure
    .input(z.object({ ref: z.string().uuid() }))
    .output(z.object({ password: z.string() }))
    .query(async ({ ctx, input }) => {
      const [peer, snapshot] = await Promise.all([
        ctx.db.bgpPeer.findUnique({ where: { id: input.ref } }),
        loadSnapshot(ctx.db),
      ]);
      let mine = false;
      try {
        const state = compileFor(snapshot, ctx.caller.nodeName);
        mine = state.bgp.instances.some((i) => i.peers.some((p) => p.passwordRef === input.ref));
      } catch (err) {
        if (!(err instanceof UnknownNodeError)) throw err;
      }
      // Same answer for "no such peer" and "not your peer".
      if (!mine || !peer?.passwordCiphertext)
        throw new TRPCError({
          code: "NOT_FOUND",
          message: "no BGP password for this reference on this node",
        });
      return { password: decryptSecret(peer.passwordCiphertext) };
    }),
});
