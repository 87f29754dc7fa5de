// Storage and reads for the BGP looking glass. One row per node and peer holds the agent's latest
// snapshot of that peer's tables; a report replaces rows whole, in one transaction, and wakes the
// console's live status stream like any other agent report.
import type { Db } from "@meridian/db";
import type {
  LookingGlassOutput,
  LookingGlassTable,
  lookingGlassInput,
  reportBgpRoutesInput,
} from "@meridian/model";
import { TRPCError } from "@trpc/server";
import type { z } from "zod";
import { STATUS_CHANNEL } from "../agent/change-feed";

export async function storeBgpRoutes(
  db: Db,
  node: { id: string; name: string },
  input: z.output<typeof reportBgpRoutesInput>,
): Promise<{ stored: number; removed: number }> {
  const reportedAt = new Date();
  const keep = input.configuredPeers && [...input.configuredPeers, ...input.peers.map((p) => p.peer)];
  const [removed] = await db.$transaction([
    // Peers the node no longer runs: their routes are gone, not frozen at the last report.
    db.bgpRouteSnapshot.deleteMany({ where: { nodeId: node.id, peer: keep ? { notIn: keep } : { in: [] } } }),
    ...input.peers.map((p) =>
      db.bgpRouteSnapshot.upsert({
        where: { nodeId_peer: { nodeId: node.id, peer: p.peer } },
        create: { nodeId: node.id, peer: p.peer, address: p.address, tables: p.tables, reportedAt },
        update: { address: p.address, tables: p.tables, reportedAt },
      }),
    ),
    db.$executeRaw`SELECT pg_notify(${STATUS_CHANNEL}, ${node.name})`,
  ]);
  return { stored: input.peers.length, removed: (removed as { count: number }).count };
}

const noReport = (node: string, peer: string) =>
  new TRPCError({
    code: "NOT_FOUND",
    message: `node ${node} has not reported routes for BGP peer ${peer}`,
  });

export async function readLookingGlass(
  db: Db,
  input: z.output<typeof lookingGlassInput>,
): Promise<LookingGlassOutput> {
  const node = await db.node.findUnique({ where: { name: input.node }, select: { id: true } });
  if (!node) throw noReport(input.node, input.peer);
  const row =
    (await db.bgpRouteSnapshot.findUnique({
      where: { nodeId_peer: { nodeId: node.id, peer: input.peer } },
    })) ?? (await db.bgpRouteSnapshot.findFirst({ where: { nodeId: node.id, address: input.peer } }));
  if (!row) throw noReport(input.node, input.peer);
  const tables = row.tables as LookingGlassTable[];
  const mine = tables.filter((t) => t.direction === input.direction);
  const table = input.family ? mine.find((t) => t.family === input.family) : mine[0];
  const needle = input.prefix?.trim().toLowerCase();
  const matching = (table?.routes ?? []).filter(
    (r) => !needle || r.prefix.toLowerCase().includes(needle) || r.rd?.toLowerCase().includes(needle),
  );
  const end = input.cursor + input.limit;
  return {
    node: input.node,
    peer: row.peer,
    address: row.address,
    direction: input.direction,
    family: table?.family ?? input.family ?? null,
    tables: tables.map((t) => ({
      direction: t.direction,
      family: t.family,
      total: t.total,
      reported: t.routes.length,
    })),
    total: table?.total ?? 0,
    reported: table?.routes.length ?? 0,
    matched: matching.length,
    routes: matching.slice(input.cursor, end),
    nextCursor: end < matching.length ? end : null,
    reportedAt: row.reportedAt,
  };
}
