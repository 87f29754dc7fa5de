// Untrusted multi-document YAML, one document at a time. The yaml package's parser and composer
// recurse into nested collections and resolve each alias by scanning every anchor before it, so
// nesting and aliases are counted on the token stream and on each document's syntax tree before
// the document is built; the built values are then checked for what no Cilium object carries and
// the database cannot store. A generator, so that the caller decides when to let other work run.
import { Composer, type CST, type Document, Lexer, LineCounter, Parser } from "yaml";
import { MAX_IMPORT_OBJECTS, MAX_YAML_ALIASES, MAX_YAML_DEPTH, MAX_YAML_DOCUMENT_CHARS } from "./limits";

export type DocumentRead =
  | { index: number; value: unknown }
  | { index: number; problem: { field: string; message: string } };

/** Why reading stopped early: a document over a limit (an error), or too many documents. */
export type ReadStop =
  | { kind: "limit"; index: number; field: string; message: string }
  | { kind: "documents"; count: number }
  | null;

/** Lexemes between pauses: parsing one large document is long work too. */
const LEXEMES_PER_PAUSE = 512;

/**
 * Yields every document's plain value (or what is wrong with it, naming the document), and null
 * where the caller may pause; returns why it stopped early, if it did. Reading stops at the first
 * document over a limit, and after MAX_IMPORT_OBJECTS non-empty documents.
 */
export function* readYamlDocuments(text: string): Generator<DocumentRead | null, ReadStop> {
  const lines = new LineCounter();
  const parser = new Parser(lines.addNewLine);
  // Plain YAML 1.2 whatever the document's %YAML directive says: no `<<` merge keys, no
  // timestamps, sets or binary values, which Cilium objects never hold.
  // Warnings (e.g. a collection used as a key) would go to the server's log: not for strangers.
  const composer = new Composer({
    version: "1.2",
    schema: "core",
    merge: false,
    uniqueKeys: true,
    logLevel: "error",
  });
  const at = (offset: number) => `line ${lines.linePos(offset).line}`;
  let tokens = 0; // document tokens seen: the index of the next document
  let emitted = 0;
  let nonEmpty = 0;
  let stop: ReadStop = null;

  function* emit(docs: Iterable<Document.Parsed>): Generator<DocumentRead> {
    for (const doc of docs) yield plainValue(doc, emitted++);
  }

  const guard = new StreamGuard();
  // The parser's tokens, fed one lexeme at a time so that nesting and size are counted before
  // anything is built; null between every LEXEMES_PER_PAUSE lexemes.
  function* syntax(): Generator<CST.Token | null> {
    let lexemes = 0;
    lines.addNewLine(0);
    for (const lexeme of new Lexer().lex(text)) {
      const problem = guard.problem(lexeme);
      if (problem) {
        stop = { kind: "limit", index: tokens, field: "", message: `${problem} (${at(guard.offset)})` };
        return;
      }
      yield* parser.next(lexeme);
      if (++lexemes % LEXEMES_PER_PAUSE === 0) yield null;
    }
    yield* parser.end();
  }

  for (const token of syntax()) {
    if (token === null) {
      yield null;
      continue;
    }
    if (token.type === "document") {
      const index = tokens++;
      const shape = measure(token.value);
      if (shape.depth > MAX_YAML_DEPTH || shape.aliases > MAX_YAML_ALIASES) {
        const message =
          shape.depth > MAX_YAML_DEPTH
            ? `nested deeper than ${MAX_YAML_DEPTH} levels (${at(shape.deepAt)})`
            : `more than ${MAX_YAML_ALIASES} YAML aliases (${at(shape.aliasAt)})`;
        stop = { kind: "limit", index, field: "", message };
        break;
      }
      if (token.value && ++nonEmpty > MAX_IMPORT_OBJECTS) {
        stop = { kind: "documents", count: nonEmpty };
        break;
      }
    }
    yield* emit(composer.next(token));
  }
  if (stop?.kind === "documents") return stop;
  // The document before the one that stopped the reading is complete: report it too.
  yield* emit(composer.end());
  return stop;
}

function plainValue(doc: Document.Parsed, index: number): DocumentRead {
  if (doc.errors.length > 0)
    return { index, problem: { field: "", message: `YAML error: ${doc.errors[0]!.message}` } };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    // The yaml package throws (rather than reports) for aliases that expand too far or that
    // point at no anchor.
    return { index, problem: { field: "", message: `YAML error: ${(err as Error).message}` } };
  }
  const problem = unstorable(value);
  return problem ? { index, problem } : { index, value };
}

/**
 * Watches the lexer's tokens, before the parser builds anything. Nesting: flow collections
 * (`[[[[…`) and compact block sequences on one line (`- - - -…`) nest without indentation, so
 * they are the only way to nest deeply in little text; indented nesting is checked per document
 * by `measure`, since it costs its square in text. Size: the current document's characters.
 */
class StreamGuard {
  private flow = 0;
  private compact = 0;
  private scalarNext = false;
  private documentStart = 0;
  offset = 0;

  /** What is wrong so far, if anything. */
  problem(lexeme: string): string | null {
    const scalar = this.scalarNext;
    this.scalarNext = lexeme === SCALAR;
    const start = this.offset;
    if (!CONTROL.has(lexeme)) this.offset += lexeme.length;
    if (!scalar) {
      // A scalar's text, even "[" or "---", opens nothing.
      if (lexeme === "{" || lexeme === "[") this.flow++;
      else if (lexeme === "}" || lexeme === "]") this.flow = Math.max(0, this.flow - 1);
      else if (lexeme === "-" || lexeme === "?") this.compact++;
      else if (lexeme === "\n" || lexeme === "\r\n") this.compact = 0;
      else if (lexeme === DOCUMENT || lexeme === "---") {
        this.flow = 0;
        this.documentStart = start;
      }
    }
    if (this.flow + this.compact > MAX_YAML_DEPTH) return `nested deeper than ${MAX_YAML_DEPTH} levels`;
    if (this.offset - this.documentStart > MAX_YAML_DOCUMENT_CHARS)
      return `a document of more than ${MAX_YAML_DOCUMENT_CHARS.toLocaleString("en")} characters; split it`;
    return null;
  }
}

// The lexer's own markers, which stand for no text of the source.
const DOCUMENT = "\u0002";
const SCALAR = "\u001f";
const FLOW_END = "\u0018";
const CONTROL = new Set([DOCUMENT, SCALAR, FLOW_END]);

/** Nesting depth and alias count of one document's syntax tree, without recursion. */
function measure(root: CST.Token | undefined) {
  const shape = { depth: 0, aliases: 0, deepAt: 0, aliasAt: 0 };
  const stack: [CST.Token, number][] = root ? [[root, 1]] : [];
  while (stack.length > 0) {
    const [token, depth] = stack.pop()!;
    if (token.type === "alias" && ++shape.aliases === MAX_YAML_ALIASES + 1) shape.aliasAt = token.offset;
    if (token.type !== "block-map" && token.type !== "block-seq" && token.type !== "flow-collection")
      continue;
    if (depth > shape.depth) {
      shape.depth = depth;
      shape.deepAt = token.offset;
    }
    if (depth > MAX_YAML_DEPTH) break;
    for (const item of token.items) {
      if (item.key) stack.push([item.key, depth + 1]);
      if (item.value) stack.push([item.value, depth + 1]);
    }
  }
  return shape;
}

/** The longest key a Cilium object has: a label key, a 253-character prefix, "/" and 63 characters. */
const MAX_KEY_CHARS = 317;

// C0 controls but tab and line breaks, DEL, and UTF-16 halves without their other half:
// PostgreSQL refuses NUL and unpaired surrogates in jsonb, and no Cilium field holds the rest.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const UNSTORABLE_CHAR = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]|\p{Cs}/u;

function describeChar(text: string): string {
  const ch = text.match(UNSTORABLE_CHAR)![0].codePointAt(0)!;
  const code = `U+${ch.toString(16).toUpperCase().padStart(4, "0")}`;
  return ch >= 0xd800 && ch <= 0xdfff
    ? `an unpaired surrogate (${code}), which is not text`
    : `the control character ${code}; only tabs and line breaks are allowed`;
}

/**
 * The first value that is not plain JSON a database can store, with its path: control characters,
 * `__proto__` keys (a JavaScript object loses them, and with them a selector's constraint),
 * numbers that are not finite. Aliases share values, so each is checked once.
 */
export function unstorable(root: unknown): { field: string; message: string } | null {
  const seen = new Set<object>();
  const stack: [unknown, string][] = [[root, ""]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === "string") {
      if (UNSTORABLE_CHAR.test(value)) return { field: path, message: `contains ${describeChar(value)}` };
      continue;
    }
    if (typeof value === "number") {
      if (!Number.isFinite(value)) return { field: path, message: `${value} is not a finite number` };
      continue;
    }
    if (value === null || typeof value === "boolean") continue;
    if (typeof value !== "object")
      return { field: path, message: `a YAML value of type ${typeof value} is not allowed` };
    if (seen.has(value)) continue;
    seen.add(value);
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        stack.push([item, `${path}[${i}]`]);
      });
      continue;
    }
    if (Object.getPrototypeOf(value) !== Object.prototype)
      return { field: path, message: "only mappings, lists and scalars are allowed" };
    for (const key of Object.keys(value)) {
      if (key.length > MAX_KEY_CHARS || UNSTORABLE_CHAR.test(key)) {
        // Named by an excerpt: the key itself may be the attack.
        const excerpt = JSON.stringify(key.slice(0, 40)).slice(1, -1);
        return {
          field: `${path}${path ? "." : ""}${excerpt}${key.length > 40 ? "…" : ""}`,
          message:
            key.length > MAX_KEY_CHARS
              ? `a key of ${key.length} characters; keys are at most ${MAX_KEY_CHARS}`
              : `the key contains ${describeChar(key)}`,
        };
      }
      const field = path ? `${path}.${key}` : key;
      if (key === "__proto__") return { field, message: "the key __proto__ is not allowed" };
      stack.push([(value as Record<string, unknown>)[key], field]);
    }
  }
  return null;
}
