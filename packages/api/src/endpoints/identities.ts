// Security identities: one number per distinct label set, allocated in PostgreSQL so every
// replica and every node agrees, and never reassigned to different labels.

import { type Labels, normalizeLabels } from "@meridian/model";
import type { Tx } from "../revisions/commit";

export const NAMESPACE_LABEL = "io.kubernetes.pod.namespace";

/** The labels an identity is derived from: the pod's labels plus its namespace, sources dropped. */
export function identityLabels(namespace: string, labels: Labels): Labels {
  const all = { ...normalizeLabels(labels), [NAMESPACE_LABEL]: namespace };
  return Object.fromEntries(Object.entries(all).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function labelsKey(labels: Labels): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(";");
}

export async function allocateIdentity(tx: Tx, labels: Labels): Promise<number> {
  const key = labelsKey(labels);
  // Read first: almost every pod's label set has its number already, and a plain read takes no
  // lock (ON CONFLICT DO UPDATE would lock the row until commit, and every report of a pod with
  // those labels would queue behind it).
  const known = await tx.$queryRaw<{ number: number }[]>`
    SELECT "number" FROM "Identity" WHERE "labelsKey" = ${key}`;
  if (known[0]) return known[0].number;
  // New: concurrent allocations of one label set get one number (the loser reads the winner's).
  const made = await tx.$queryRaw<{ number: number }[]>`
    INSERT INTO "Identity" ("labelsKey", "labels") VALUES (${key}, ${JSON.stringify(labels)}::jsonb)
    ON CONFLICT ("labelsKey") DO NOTHING
    RETURNING "number"`;
  if (made[0]) return made[0].number;
  const raced = await tx.$queryRaw<{ number: number }[]>`
    SELECT "number" FROM "Identity" WHERE "labelsKey" = ${key}`;
  return raced[0]!.number;
}
