// Every imported object through the schemas that `create` uses for its kind (the name, the
// namespace and the def's spec: resources/define.ts), so that the import can store nothing the
// API would refuse. Errors name the document and the field the value came from.

import { formatFieldPath } from "@meridian/model";
import { z } from "zod";
import type { ImportedObject } from "../cilium";
import type { FieldProblem } from "../errors";
import { nameSchema, namespaceSchema, type ResourceDef, resourceRegistry } from "../resources/define";

export type ResourceDefAny = ResourceDef<z.ZodType, z.ZodType>;

export interface ValidObject {
  obj: ImportedObject;
  def: ResourceDefAny;
  /** "" for cluster-wide and for kinds without namespaces, as the database stores it. */
  namespace: string;
  spec: unknown;
}

const createShapes = new WeakMap<ResourceDefAny, z.ZodType>();

function createShape(def: ResourceDefAny): z.ZodType {
  let shape = createShapes.get(def);
  if (!shape) {
    shape = z.object({
      name: nameSchema,
      ...(def.namespaced ? { namespace: namespaceSchema } : {}),
      spec: def.spec,
    });
    createShapes.set(def, shape);
  }
  return shape;
}

/** The path of an import problem: `yaml.document 3.metadata.name`. */
export function yamlPath(obj: ImportedObject, field: string): (string | number)[] {
  return ["yaml", `document ${obj.origin.document}`, field];
}

/** Where in the document a create-input path (`name`, `namespace`, `spec.egress.0`) came from. */
export function originField(obj: ImportedObject, path: readonly PropertyKey[]): string {
  const [head, ...rest] = path;
  if (head === "name") return obj.origin.name;
  if (head === "namespace") return obj.origin.namespace ?? "metadata.namespace";
  const inSpec = formatFieldPath(head === "spec" ? rest : path);
  return inSpec ? `${obj.origin.spec}.${inSpec}` : obj.origin.spec;
}

export const qualified = (name: string, namespace: string) => (namespace ? `${namespace}/${name}` : name);

/** Yields between objects; returns the checked objects, or every problem found. */
export function* validateImported(
  objects: ImportedObject[],
): Generator<void, { valid: ValidObject[]; problems: FieldProblem[] }> {
  const valid: ValidObject[] = [];
  const problems: FieldProblem[] = [];
  const seen = new Map<string, ImportedObject>();
  for (const obj of objects) {
    yield;
    const def = resourceRegistry.get(obj.kind);
    if (!def) throw new Error(`no resource definition for ${obj.kind}`);
    const namespace = def.namespaced ? (obj.namespace ?? "") : "";
    const parsed = createShape(def).safeParse({
      name: obj.name,
      ...(def.namespaced ? { namespace } : {}),
      spec: obj.spec,
    });
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        problems.push({ path: yamlPath(obj, originField(obj, issue.path)), message: issue.message });
      continue;
    }
    // Objects are written by name: the same one twice would be written twice in one revision.
    const key = `${obj.kind}\u0000${namespace}\u0000${obj.name}`;
    const first = seen.get(key);
    if (first) {
      problems.push({
        path: yamlPath(obj, obj.origin.name),
        message: `${def.label} ${qualified(obj.name, namespace)} is also in document ${first.origin.document}; an import holds each object once`,
      });
      continue;
    }
    seen.set(key, obj);
    valid.push({ obj, def, namespace, spec: (parsed.data as { spec: unknown }).spec });
  }
  return { valid, problems };
}
