// Label and field selectors as the Kubernetes API server parses them (apimachinery's
// labels.Parse and fields.ParseSelector), for the stand-in API server of the tests. A selector
// that does not parse, or names a field the resource cannot be selected on, is a 400 there too.

export interface KubeObjectLike {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export class SelectorError extends Error {}

type LabelRequirement =
  | { op: "eq" | "neq"; key: string; value: string }
  | { op: "in" | "notin"; key: string; values: string[] }
  | { op: "exists" | "absent"; key: string };

/** Splits on commas that are not inside `in (…)` lists. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== "");
}

export function parseLabelSelector(s: string | null): LabelRequirement[] {
  if (!s) return [];
  return splitTerms(s).map((term): LabelRequirement => {
    let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m)
      return {
        op: m[2] as "in" | "notin",
        key: m[1]!,
        values: m[3]!.split(",").map((v) => v.trim()),
      };
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(term);
    if (m) return { op: m[2] === "!=" ? "neq" : "eq", key: m[1]!, value: m[3]! };
    m = /^(!?)([\w./-]+)$/.exec(term);
    if (m) return { op: m[1] ? "absent" : "exists", key: m[2]! };
    throw new SelectorError(`unable to parse requirement: "${term}"`);
  });
}

export function matchesLabels(reqs: LabelRequirement[], labels: Record<string, string> = {}): boolean {
  return reqs.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case "eq":
        return has && v === r.value;
      case "neq":
        return !has || v !== r.value;
      case "in":
        return has && r.values.includes(v!);
      case "notin":
        return !has || !r.values.includes(v!);
      case "exists":
        return has;
      case "absent":
        return !has;
    }
    return false;
  });
}

interface FieldRequirement {
  field: string;
  value: string;
  equal: boolean;
}

/** The fields each resource can be selected on (the real server's field label conversion). */
const FIELDS: Record<string, Record<string, (o: KubeObjectLike) => string>> = {
  pods: {
    "metadata.name": (o) => o.metadata?.name ?? "",
    "metadata.namespace": (o) => o.metadata?.namespace ?? "",
    "spec.nodeName": (o) => String(o.spec?.nodeName ?? ""),
    "spec.serviceAccountName": (o) => String(o.spec?.serviceAccountName ?? ""),
    "status.phase": (o) => String(o.status?.phase ?? ""),
    "status.podIP": (o) => String(o.status?.podIP ?? ""),
  },
  nodes: {
    "metadata.name": (o) => o.metadata?.name ?? "",
    "spec.unschedulable": (o) => String(o.spec?.unschedulable ?? false),
  },
  namespaces: {
    "metadata.name": (o) => o.metadata?.name ?? "",
    "status.phase": (o) => String(o.status?.phase ?? ""),
  },
};

export function parseFieldSelector(resource: string, s: string | null): FieldRequirement[] {
  if (!s) return [];
  return splitTerms(s).map((term) => {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw new SelectorError(`invalid selector: '${term}'; can't understand '${term}'`);
    if (!FIELDS[resource]?.[m[1]!]) throw new SelectorError(`field label not supported: ${m[1]}`);
    return { field: m[1]!, value: m[3]!, equal: m[2] !== "!=" };
  });
}

export function matchesFields(resource: string, reqs: FieldRequirement[], o: KubeObjectLike): boolean {
  return reqs.every((r) => (FIELDS[resource]![r.field]!(o) === r.value) === r.equal);
}
