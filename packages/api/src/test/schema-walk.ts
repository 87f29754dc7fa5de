// Walks a procedure's zod input schema down to its leaves, so tests can ask of every field what
// it accepts: the bounds test checks that each one is limited, the hostile-input suite aims at
// each one in turn. Paths use `[]` for "any item of this array" and `{}` for "any value of this
// record".
import type { z } from "zod";

export type LeafKind = "string" | "number" | "boolean" | "date" | "enum" | "unknown" | "other";

export interface Leaf {
  path: string[];
  kind: LeafKind;
  /** Strings: the longest accepted (null when unbounded); numbers: the range. */
  maxLength: number | null;
  min: number | null;
  max: number | null;
  integer: boolean;
  /** Accepts text for a number or boolean (query strings). */
  coerced: boolean;
  /** A string with a fixed format (uuid) that bounds it by itself. */
  format: string | null;
  /** One branch of a union: a value of another type may be another branch's, and valid. */
  inUnion: boolean;
}

export interface Container {
  path: string[];
  kind: "array" | "record";
  maxItems: number | null;
}

export interface SchemaShape {
  leaves: Leaf[];
  containers: Container[];
  /** Top-level object keys (when the input is an object). */
  topKeys: string[];
}

// biome-ignore lint/suspicious/noExplicitAny: zod's internals are untyped here on purpose
type AnySchema = any;

function def(s: AnySchema) {
  return s._zod.def as Record<string, AnySchema> & { type: string };
}

function checkOf(s: AnySchema, name: string): AnySchema | undefined {
  return (def(s).checks ?? []).map((c: AnySchema) => c._zod.def).find((d: AnySchema) => d.check === name);
}

export function walkSchema(schema: z.ZodType): SchemaShape {
  const leaves: Leaf[] = [];
  const containers: Container[] = [];
  const seen = new Set<AnySchema>();
  let unionDepth = 0;
  const leaf = (l: Omit<Leaf, "inUnion">) => leaves.push({ ...l, inUnion: unionDepth > 0 });
  const visit = (s: AnySchema, path: string[], coerced = false): undefined => {
    if (!s?._zod) return;
    const d = def(s);
    switch (d.type) {
      case "optional":
      case "nullable":
      case "default":
      case "prefault":
      case "catch":
      case "readonly":
      case "nonoptional":
        return visit(d.innerType, path, coerced);
      case "pipe":
        // preprocess(fn, schema) and schema.transform(fn): the schema that checks is `out` for
        // a preprocess and `in` for a transform.
        if (def(d.in).type === "transform") return visit(d.out, path, true);
        return visit(d.in, path, coerced);
      case "lazy":
        if (seen.has(s)) return;
        seen.add(s);
        return visit(d.getter(), path, coerced);
      case "object":
        for (const [k, v] of Object.entries(d.shape as Record<string, AnySchema>)) visit(v, [...path, k]);
        return;
      case "array":
        containers.push({ path, kind: "array", maxItems: checkOf(s, "max_length")?.maximum ?? null });
        return visit(d.element, [...path, "[]"]);
      case "record":
        containers.push({ path, kind: "record", maxItems: null });
        return visit(d.valueType, [...path, "{}"]);
      case "union":
        unionDepth += 1;
        for (const o of d.options) visit(o, path, coerced);
        unionDepth -= 1;
        return;
      case "intersection":
        visit(d.left, path);
        visit(d.right, path);
        return;
      case "tuple":
        (d.items as AnySchema[]).forEach((item, i) => {
          visit(item, [...path, String(i)]);
        });
        return;
      case "string": {
        const format = checkOf(s, "string_format")?.format ?? d.format ?? null;
        leaf({
          path,
          kind: "string",
          maxLength: s.maxLength ?? null,
          min: null,
          max: null,
          integer: false,
          coerced,
          format,
        });
        return;
      }
      case "number":
        leaf({
          path,
          kind: "number",
          maxLength: null,
          min:
            Number.isFinite(s.minValue) && Math.abs(s.minValue) < Number.MAX_SAFE_INTEGER ? s.minValue : null,
          max:
            Number.isFinite(s.maxValue) && Math.abs(s.maxValue) < Number.MAX_SAFE_INTEGER ? s.maxValue : null,
          integer: Boolean(s.isInt),
          coerced: coerced || Boolean(d.coerce),
          format: null,
        });
        return;
      case "boolean":
      case "date":
      case "enum":
      case "literal":
        leaf({
          path,
          kind: d.type === "literal" ? "enum" : (d.type as LeafKind),
          maxLength: null,
          min: null,
          max: null,
          integer: false,
          coerced: coerced || Boolean(d.coerce),
          format: null,
        });
        return;
      case "unknown":
      case "any":
        leaf({
          path,
          kind: "unknown",
          maxLength: null,
          min: null,
          max: null,
          integer: false,
          coerced,
          format: null,
        });
        return;
      default:
        leaf({
          path,
          kind: "other",
          maxLength: null,
          min: null,
          max: null,
          integer: false,
          coerced,
          format: null,
        });
    }
  };
  visit(schema as AnySchema, []);
  const top = unwrapObject(schema as AnySchema);
  return { leaves, containers, topKeys: top ? Object.keys(def(top).shape) : [] };
}

function unwrapObject(s: AnySchema): AnySchema | null {
  let cur = s;
  for (let i = 0; i < 10 && cur?._zod; i++) {
    const d = def(cur);
    if (d.type === "object") return cur;
    if (d.type === "pipe") cur = def(d.in).type === "transform" ? d.out : d.in;
    else cur = d.innerType;
  }
  return null;
}

/** The input schema a procedure parses (tRPC keeps them in `_def.inputs`). */
export function procedureInput(procedure: unknown): z.ZodType | null {
  const inputs = (procedure as { _def: { inputs?: z.ZodType[] } })._def.inputs ?? [];
  return inputs[0] ?? null;
}
