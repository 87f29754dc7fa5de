import { type CodecContext, encodeAttributes, type PathAttributes } from "../codec/attributes.js";

/**
 * An interned attribute set: every route with the same attributes and next hops points at one
 * frozen object, so a million routes from one peer cost a handful of these, not a million.
 */
export interface AttrSet {
  readonly attrs: Readonly<PathAttributes>;
  readonly nextHops: readonly string[];
  readonly id: string;
}

/** A route as stored: the shared attribute set, plus labels only for labelled (VPN) families. */
export type RouteValue = AttrSet | LabeledRoute;

export interface LabeledRoute {
  readonly set: AttrSet;
  readonly labels: number[];
}

export function setOf(v: RouteValue): AttrSet {
  return "set" in v ? v.set : v;
}

export function labelsOf(v: RouteValue): number[] | undefined {
  return "set" in v ? v.labels : undefined;
}

const CTX: CodecContext = { as4: true };

export class AttrInterner {
  private table = new Map<string, WeakRef<AttrSet>>();
  private inserts = 0;

  intern(attrs: PathAttributes, nextHops: string[]): AttrSet {
    const clean: PathAttributes = { ...attrs, mpReach: undefined, mpUnreach: undefined };
    for (const k of Object.keys(clean) as (keyof PathAttributes)[])
      if (clean[k] === undefined) delete clean[k];
    const id = `${nextHops.join(",")}#${encodeAttributes(clean, CTX).toString("latin1")}`;
    const hit = this.table.get(id)?.deref();
    if (hit) return hit;
    const set: AttrSet = Object.freeze({
      attrs: Object.freeze(clean),
      nextHops: Object.freeze([...nextHops]),
      id,
    });
    this.table.set(id, new WeakRef(set));
    // Sets whose routes are all gone get collected; sweep their table entries now and then.
    if (++this.inserts % 1024 === 0) for (const [k, r] of this.table) if (!r.deref()) this.table.delete(k);
    return set;
  }

  get size(): number {
    return this.table.size;
  }
}
