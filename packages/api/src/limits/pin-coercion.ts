// trpc-to-openapi "helps" REST callers by setting `coerce = true` on every number, boolean and
// date schema of a procedure's input the first time it serves that route (utils/zod coerceSchema).
// The schemas are shared, so from then on the tRPC route coerces too: `[]` becomes `true`, the
// string "false" becomes `true`, `true` becomes revision 1. We pin each schema's own choice: where
// a query string needs text turned into a number, the schema says so itself (spec/limits queryInt).
import type { AnyRouter } from "@trpc/server";

// biome-ignore lint/suspicious/noExplicitAny: zod's internals are untyped here on purpose
type AnySchema = any;

const COERCIBLE = new Set(["number", "boolean", "bigint", "date"]);

function children(def: AnySchema): AnySchema[] {
  const out: AnySchema[] = [];
  for (const key of ["innerType", "in", "out", "element", "keyType", "valueType", "left", "right"]) {
    if (def[key]?._zod) out.push(def[key]);
  }
  if (def.shape) out.push(...Object.values(def.shape as Record<string, AnySchema>));
  if (Array.isArray(def.options)) out.push(...def.options);
  if (Array.isArray(def.items)) out.push(...def.items);
  return out;
}

function pin(schema: AnySchema, seen: Set<AnySchema>): void {
  if (!schema?._zod || seen.has(schema)) return;
  seen.add(schema);
  const def = schema._zod.def;
  if (COERCIBLE.has(def.type)) {
    const own = Boolean(def.coerce);
    Object.defineProperty(def, "coerce", {
      get: () => own,
      set: () => {},
      enumerable: true,
      configurable: false,
    });
  }
  for (const child of children(def)) pin(child, seen);
}

/** Makes every input schema of `router` keep its coercion as written, whatever a REST adapter sets. */
export function pinInputCoercion(router: AnyRouter): void {
  const seen = new Set<AnySchema>();
  for (const procedure of Object.values(
    router._def.procedures as Record<string, { _def: { inputs?: AnySchema[] } }>,
  )) {
    for (const input of procedure._def.inputs ?? []) pin(input, seen);
  }
}
