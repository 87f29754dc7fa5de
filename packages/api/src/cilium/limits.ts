// How much one Cilium import may ask of the control plane, in one place. Every limit is checked
// while the YAML is read, before the database is touched: a request over one costs part of a
// parse, never a query.

/** YAML text per import, in characters (the API refuses more before it reads a byte of it). */
export const MAX_IMPORT_YAML_CHARS = 5_000_000;

/**
 * Objects one import may create or update. A document with `specs:` makes several policies, and
 * a CiliumBGPClusterConfig one object per instance and per peer, so the objects are counted after
 * mapping; reading stops as soon as there are more documents than that (every object but a BGP
 * peer needs one document of its own), so ten thousand documents cost a thousand to refuse.
 */
export const MAX_IMPORT_OBJECTS = 1000;

/**
 * Characters in one document. The yaml package builds a document in one uninterruptible call,
 * about 0.1-0.2 s for this much on a loaded 2-core machine; a Cilium object this big already
 * holds thousands of rules (Meridian's own export of a policy is a few hundred characters).
 */
export const MAX_YAML_DOCUMENT_CHARS = 256 * 1024;

/** Nesting of one document (Cilium objects need about twelve levels); the YAML composer recurses. */
export const MAX_YAML_DEPTH = 64;

/**
 * Aliases (`*name`) in one document, and how far they may expand (the yaml package's
 * `maxAliasCount`): aliases are how a few bytes of YAML become gigabytes ("billion laughs").
 */
export const MAX_YAML_ALIASES = 100;

/** Rows per INSERT or UPDATE when an import is written. */
export const IMPORT_WRITE_BATCH = 100;
