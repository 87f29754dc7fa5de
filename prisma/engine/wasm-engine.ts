// Prisma's schema engine as WebAssembly, driven through the pg driver adapter.
// Prisma's native engine cannot be downloaded on our machines (see ../README.md), and the
// package's own entry does `import "./x.wasm"`, which Node 20 cannot do: we instantiate it by hand.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { PrismaPg } from "@prisma/adapter-pg";
import { bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";

const require = createRequire(import.meta.url);

type EngineModule = typeof import("@prisma/schema-engine-wasm");
export type SchemaEngine = Awaited<ReturnType<EngineModule["SchemaEngine"]["new"]>>;

interface WasmApi {
  instantiate(
    bytes: Uint8Array,
    imports: Record<string, unknown>,
  ): Promise<{ instance: { exports: Record<string, unknown> } }>;
}

let modulePromise: Promise<EngineModule> | undefined;

async function loadModule(): Promise<EngineModule> {
  const dir = path.dirname(require.resolve("@prisma/schema-engine-wasm/schema_engine_bg"));
  const bg = (await import(path.join(dir, "schema_engine_bg.js"))) as EngineModule & {
    __wbg_set_wasm(w: unknown): void;
  };
  const bytes = await readFile(path.join(dir, "schema_engine_bg.wasm"));
  // Node's global WebAssembly (typed loosely: our lib settings carry no DOM types).
  const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const { instance } = await wasmApi.instantiate(bytes, { "./schema_engine_bg.js": bg });
  bg.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  return bg;
}

/** Opens the WASM schema engine on `connectionString` with the datamodel `schema` (may be empty). */
export async function openSchemaEngine(connectionString: string, schema?: { path: string; content: string }) {
  modulePromise ??= loadModule();
  const mod = await modulePromise;
  const adapter = bindMigrationAwareSqlAdapterFactory(patchFactory(new PrismaPg({ connectionString })));
  const logs: string[] = [];
  const engine = await mod.SchemaEngine.new(
    { datamodels: schema ? [[schema.path, schema.content]] : undefined },
    (log: string) => logs.push(log),
    adapter,
  );
  return { engine, logs };
}

const PG_CHAR_OID = 18; // PostgreSQL's internal one-byte "char" (pg_class.relkind etc.)
const PG_TEXT_OID = 25;

type Queryable = { performIO(query: unknown): Promise<{ fields: { dataTypeID: number }[] }> };

/**
 * The adapter cannot map the internal "char" type that introspection reads; report it as text.
 * (It is only ever read by the engine's catalogue queries, never by our application.)
 */
function patchFactory(factory: PrismaPg): PrismaPg {
  const connect = factory.connect.bind(factory);
  factory.connect = async () => {
    const adapter = await connect();
    const q = adapter as unknown as Queryable;
    const performIO = q.performIO.bind(q);
    q.performIO = async (query) => {
      const res = await performIO(query);
      for (const f of res.fields) if (f.dataTypeID === PG_CHAR_OID) f.dataTypeID = PG_TEXT_OID;
      return res;
    };
    return adapter;
  };
  return factory;
}
