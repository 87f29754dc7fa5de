"use server";
// What-if runs the desired-state compiler on the server over a snapshot of the model: the same
// code that computes what each node's datapath enforces. The API has no what-if procedure, so
// the console calls the compiler here, after the same sign-in check as every page.
import { loadSnapshot } from "@meridian/api";
import { type WhatIfResult, whatIf } from "@meridian/api/compiler/index";
import { currentUser } from "@/server/caller";
import { getDb } from "@/server/db";

export interface WhatIfForm {
  source: string;
  destKind: "endpoint" | "ip" | "fqdn";
  destination: string;
  port: number;
  protocol: "TCP" | "UDP" | "SCTP" | "ICMP" | "ICMPv6";
}

export type WhatIfAnswer =
  | { ok: true; result: WhatIfResult; revision: number; names: Record<string, string> }
  | { ok: false; error: string; field?: "source" | "destination" | "port" };

export async function askWhatIf(form: WhatIfForm): Promise<WhatIfAnswer> {
  const me = await currentUser();
  if (!me?.user) return { ok: false, error: "sign in first" };
  if (!Number.isInteger(form.port) || form.port < 0 || form.port > 65535)
    return { ok: false, error: "port must be 0..65535", field: "port" };
  const snapshot = await loadSnapshot(getDb());
  const byName = (text: string) =>
    snapshot.endpoints.find((e) => `${e.namespace}/${e.name}` === text.trim() || e.id === text.trim());
  const source = byName(form.source);
  if (!source)
    return { ok: false, error: `no endpoint "${form.source}" (write namespace/name)`, field: "source" };
  let destination: { endpoint: string } | { ip: string } | { fqdn: string };
  if (form.destKind === "endpoint") {
    const d = byName(form.destination);
    if (!d)
      return {
        ok: false,
        error: `no endpoint "${form.destination}" (write namespace/name)`,
        field: "destination",
      };
    destination = { endpoint: d.id };
  } else if (form.destKind === "ip") {
    if (!/^[0-9a-fA-F:.]+$/.test(form.destination.trim()))
      return { ok: false, error: `"${form.destination}" is not an IP address`, field: "destination" };
    destination = { ip: form.destination.trim() };
  } else {
    if (!form.destination.trim()) return { ok: false, error: "give a DNS name", field: "destination" };
    destination = { fqdn: form.destination.trim().replace(/\.$/, "").toLowerCase() };
  }
  try {
    const result = whatIf(snapshot, {
      source: source.id,
      destination,
      port: form.port,
      protocol: form.protocol,
    });
    const names = Object.fromEntries(snapshot.endpoints.map((e) => [e.id, `${e.namespace}/${e.name}`]));
    const used = new Set(result.checks.map((c) => c.endpoint));
    // The compiler names endpoints by id; people know them as namespace/name.
    const words = (text: string) => [...used].reduce((t, id) => t.replaceAll(id, names[id] ?? id), text);
    return {
      ok: true,
      result: {
        ...result,
        reason: words(result.reason),
        checks: result.checks.map((c) => ({ ...c, reason: words(c.reason) })),
      },
      revision: snapshot.revision,
      names: Object.fromEntries(Object.entries(names).filter(([id]) => used.has(id))),
    };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
