// Security identities: one number per distinct label set, allocated in PostgreSQL so every
// replica and every node agrees, and never reassigned to different labels.
import type { Tx } from "../revisions/commit";
import { type Labels, normalizeLabels } from "../spec";

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
  // ON CONFLICT makes concurrent allocation of the same label set return the same number.
  const rows = await tx.$queryRaw<{ number: number }[]>`
    INSERT INTO "Identity" ("labelsKey", "labels") VALUES (${key}, ${JSON.stringify(labels)}::jsonb)
    ON CONFLICT ("labelsKey") DO UPDATE SET "labelsKey" = EXCLUDED."labelsKey"
    RETURNING "number"`;
  return rows[0]!.number;
}
