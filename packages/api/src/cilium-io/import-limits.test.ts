// The import is held to what the API accepts and to what one request may cost: the same name,
// namespace and spec rules as `create`, hostile YAML refused quickly with a field error, at most
// MAX_IMPORT_OBJECTS objects counted before any query, and a maximum-size import written as one
// revision, all or nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_IMPORT_OBJECTS } from "../cilium/limits";
import { type RunningServer, startServer } from "../server";
import { createHarness, errorOf, type Harness } from "../test/harness";
import { manyPolicies, policyDocument } from "./import.test-helpers";

let h: Harness;
let server: RunningServer;
beforeAll(async () => {
  h = await createHarness();
  server = await startServer({ db: h.db, changeFeed: h.feed });
});
afterAll(async () => {
  await server.close();
  await h.close();
});

const revisions = () => h.db.revision.count();
const policies = () => h.db.networkPolicy.count();

async function rest(path: string, body: unknown) {
  const res = await fetch(`${server.url}/api/v1${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${h.tokens.operator}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { message: string } };
}

async function timedError(fn: () => Promise<unknown>) {
  const start = performance.now();
  const err = await errorOf(fn);
  return { ...err, ms: performance.now() - start };
}

describe("the import refuses what POST /network-policies refuses, naming the document and field", () => {
  const hostile = [
    {
      what: "a name with capitals, slashes and markup",
      name: "Probe_IMPORT/../<b>x</b>",
      namespace: "probe",
      field: "name",
    },
    {
      what: "a namespace with a space and a semicolon",
      name: "probe",
      namespace: "probe bad;ns",
      field: "namespace",
    },
    { what: "a 300-character name", name: "a".repeat(300), namespace: "probe", field: "name" },
  ];
  it.each(hostile)("$what", async ({ name, namespace, field }) => {
    const before = { revisions: await revisions(), policies: await policies() };
    const spec = { endpointSelector: { matchLabels: { app: "probe" } } };
    const api = await errorOf(async () =>
      (await h.as("operator")).policies.create({ name, namespace, spec }),
    );
    expect(api.code).toBe("BAD_REQUEST");
    const apiMessages = api.fieldErrors?.[field];
    expect(apiMessages?.length).toBeGreaterThan(0);

    const yaml = `${policyDocument("fine", "probe")}---\n${policyDocument(name, namespace)}`;
    const imported = await errorOf(async () => (await h.as("operator")).cilium.import({ yaml }));
    expect(imported.code).toBe("BAD_REQUEST");
    expect(imported.fieldErrors).toEqual({ [`yaml.document 1.metadata.${field}`]: apiMessages });

    // The same over REST, as the finding was made: both 400, both with the API's words.
    const restCreate = await rest("/network-policies", { name, namespace, spec });
    const restImport = await rest("/cilium/import", { yaml });
    expect([restCreate.status, restImport.status]).toEqual([400, 400]);
    expect(restImport.body.message).toBe(`yaml.document 1.metadata.${field}: ${apiMessages![0]}`);
    expect(restImport.body.message).not.toContain("<b>");

    expect({ revisions: await revisions(), policies: await policies() }).toEqual(before);
  });

  it("a spec field over the API's limit is refused the same way (description longer than 1024)", async () => {
    const yaml = policyDocument("long-description", "probe").replace(
      "spec:\n",
      `spec:\n  description: ${"d".repeat(1025)}\n`,
    );
    const err = await errorOf(async () => (await h.as("operator")).cilium.import({ yaml }));
    expect(Object.keys(err.fieldErrors ?? {})).toEqual(["yaml.document 0.spec.description"]);
  });

  it("the same object twice in one import is refused, naming both documents", async () => {
    const yaml = [policyDocument("twice", "probe"), policyDocument("twice", "probe", 443)].join("---\n");
    const err = await errorOf(async () => (await h.as("operator")).cilium.import({ yaml }));
    expect(err.fieldErrors).toEqual({
      "yaml.document 1.metadata.name": [
        "network policy probe/twice is also in document 0; an import holds each object once",
      ],
    });
  });
});

describe("hostile YAML is refused quickly with a 400 that names the document", () => {
  const header =
    "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: hostile, namespace: probe}\n";
  const levels = "abcdefghi".split("");
  // Nine levels of nine aliases each: 9^9 (387 million) strings once expanded.
  const billionLaughs =
    `${header}spec:\n  endpointSelector: {}\n  description: x\n  ingress: []\nbomb:\n` +
    `  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n` +
    levels
      .slice(1)
      .map((l, i) => `  ${l}: &${l} [${Array(9).fill(`*${levels[i]}`).join(",")}]\n`)
      .join("");
  const cases = [
    {
      what: "an alias bomb (billion laughs)",
      yaml: billionLaughs,
      field: "yaml.document 0",
      message: /alias/i,
    },
    {
      what: "more than 100 aliases",
      yaml: `${header}spec: {endpointSelector: {}}\nx: &x 1\nys: [${Array(101).fill("*x").join(",")}]\n`,
      field: "yaml.document 0",
      message: /more than 100 YAML aliases/,
    },
    {
      what: "a duplicate key",
      yaml: `${header}spec: {endpointSelector: {}, endpointSelector: {matchLabels: {a: b}}}\n`,
      field: "yaml.document 0",
      message: /Map keys must be unique/,
    },
    {
      what: "100,000 nested flow lists",
      yaml: `${header}spec: ${"[".repeat(100_000)}${"]".repeat(100_000)}\n`,
      field: "yaml.document 0",
      message: /nested deeper than 64 levels/,
    },
    {
      what: "700 nested block lists",
      yaml: `${header}spec:\n${Array.from({ length: 700 }, (_, i) => `${" ".repeat(i)}- \n`).join("")}`,
      field: "yaml.document 0",
      message: /nested deeper than 64 levels/,
    },
    {
      what: "one 4.5 MB document, refused after its first 256 KiB",
      yaml: `${header}spec:\n  endpointSelector: {}\n  egress:\n${'  - toCIDR: ["10.0.0.0/24"]\n'.repeat(150_000)}`,
      field: "yaml.document 0",
      message: /a document of more than 262,144 characters; split it \(line \d+\)/,
    },
    {
      what: "a NUL byte in the text",
      yaml: `${header}spec: {description: "a\u0000b", endpointSelector: {}}\n`,
      field: "yaml.document 0.spec.description",
      message: /control character U\+0000/,
    },
    {
      what: "a NUL written as a YAML escape",
      yaml: `${header}spec: {description: "a\\0b", endpointSelector: {}}\n`,
      field: "yaml.document 0.spec.description",
      message: /control character U\+0000/,
    },
    {
      what: "an unpaired surrogate",
      yaml: `${header}spec: {description: "a\\ud800b", endpointSelector: {}}\n`,
      field: "yaml.document 0.spec.description",
      message: /unpaired surrogate/,
    },
    {
      what: "a __proto__ label key, which would widen the selector to every endpoint",
      yaml: `${header}spec: {endpointSelector: {matchLabels: {__proto__: x}}}\n`,
      field: "yaml.document 0.spec.endpointSelector.matchLabels.__proto__",
      message: /__proto__ is not allowed/,
    },
    {
      what: "a 100,000-character key, echoed only as an excerpt",
      yaml: `${header}spec: {endpointSelector: {matchLabels: {${"k".repeat(100_000)}: x}}}\n`,
      field: `yaml.document 0.spec.endpointSelector.matchLabels.${"k".repeat(40)}…`,
      message: /a key of 100000 characters; keys are at most 317/,
    },
  ];
  it.each(cases)("$what", async ({ yaml, field, message }) => {
    const before = await revisions();
    const err = await timedError(async () => (await h.as("operator")).cilium.import({ yaml }));
    expect(err.code).toBe("BAD_REQUEST");
    expect(Object.keys(err.fieldErrors ?? {})).toEqual([field]);
    expect(err.fieldErrors?.[field]?.[0]).toMatch(message);
    expect(err.message.length).toBeLessThan(500);
    // Loose, for a shared machine: the old code took tens of seconds or never answered.
    expect(err.ms).toBeLessThan(8000);
    expect(await revisions()).toBe(before);
  });

  it("an alias bomb over REST is a 400, not a 500", async () => {
    const res = await rest("/cilium/import", { yaml: billionLaughs });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^yaml\.document 0: YAML error: Excessive alias count/);
  });
});

describe(`at most ${MAX_IMPORT_OBJECTS} objects per import, counted before any query`, () => {
  it("10,000 policies are refused fast with 413, and nothing is written", async () => {
    const yaml = manyPolicies(10_000, "flood");
    expect(yaml.length).toBeLessThan(5_000_000);
    const before = { revisions: await revisions(), policies: await policies() };
    for (const dryRun of [true, false]) {
      const err = await timedError(async () => (await h.as("operator")).cilium.import({ yaml, dryRun }));
      expect(err.code).toBe("PAYLOAD_TOO_LARGE");
      expect(err.message).toBe(
        "the YAML holds more than 1,000 documents; one import carries at most 1,000 objects: split it into several imports",
      );
      expect(err.fieldErrors).toEqual({ yaml: [err.message] });
      // Reading stops after the thousand-and-first document; the old import took ~30 s here
      // (and ended in a 500). The bound is loose on purpose: the figure (about a second on an idle
      // 2-core machine) is printed for README, not asserted tightly on a machine that is shared.
      console.log(`10,000 policies refused in ${err.ms.toFixed(0)} ms (dry run: ${dryRun})`);
      expect(err.ms).toBeLessThan(10_000);
    }
    const res = await rest("/cilium/import", { yaml, dryRun: true });
    expect(res.status).toBe(413);
    expect({ revisions: await revisions(), policies: await policies() }).toEqual(before);
  });

  it("objects are counted, not documents: one policy with 1,001 specs is refused naming the count", async () => {
    const specs = Array.from({ length: 1001 }, (_, i) => `- endpointSelector: {matchLabels: {app: a${i}}}\n`);
    const yaml = `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: many, namespace: probe}\nspecs:\n${specs.join("")}`;
    const err = await errorOf(async () => (await h.as("operator")).cilium.import({ yaml }));
    expect(err.code).toBe("PAYLOAD_TOO_LARGE");
    expect(err.message).toContain("the YAML holds 1,001 objects; one import carries at most 1,000 objects");
  });
});

describe("a maximum-size import is one revision, written in batches, all or nothing", () => {
  it(`${MAX_IMPORT_OBJECTS} new policies: a dry run writes nothing, the import makes one revision with every object`, async () => {
    const yaml = manyPolicies(MAX_IMPORT_OBJECTS, "max");
    const op = await h.as("operator");
    const before = { revisions: await revisions(), policies: await policies() };
    const dry = await op.cilium.import({ yaml, dryRun: true });
    expect(dry.objects.filter((o) => o.action === "would-apply")).toHaveLength(MAX_IMPORT_OBJECTS);
    expect({ revisions: await revisions(), policies: await policies() }).toEqual(before);

    const start = performance.now();
    const res = await op.cilium.import({ yaml });
    // Loose, for a loaded machine: well under a second when idle; the per-object import took 5-13 s.
    expect(performance.now() - start).toBeLessThan(5000);
    expect(res.objects.filter((o) => o.action === "created")).toHaveLength(MAX_IMPORT_OBJECTS);
    expect(await revisions()).toBe(before.revisions + 1);
    expect(await h.db.networkPolicy.count({ where: { namespace: "max" } })).toBe(MAX_IMPORT_OBJECTS);
    const entries = await h.db.auditEntry.findMany({ where: { revisionNumber: res.revision! } });
    expect(entries).toHaveLength(MAX_IMPORT_OBJECTS);
    // The audit row is what a read returns: the id, the stored spec, the author.
    const web7 = await op.policies.get({ id: res.objects.find((o) => o.name === "web-7")!.id! });
    expect(entries.find((e) => e.entityName === "web-7")).toMatchObject({
      entityId: web7.id,
      action: "create",
      before: null,
      after: { id: web7.id, namespace: "max", version: 1, updatedBy: web7.updatedBy },
    });
    expect(web7.spec.ingress?.[0]?.toPorts?.[0]?.ports).toEqual([{ port: "80", protocol: "TCP" }]);

    // Changing every one is one more revision, each at version 2.
    const changed = await op.cilium.import({ yaml: manyPolicies(MAX_IMPORT_OBJECTS, "max", 8080) });
    expect(changed.objects.filter((o) => o.action === "updated")).toHaveLength(MAX_IMPORT_OBJECTS);
    expect(changed.revision).toBe(res.revision! + 1);
    const after = await op.policies.get({ id: web7.id });
    expect(after.version).toBe(2);
    expect(after.spec.ingress?.[0]?.toPorts?.[0]?.ports).toEqual([{ port: "8080", protocol: "TCP" }]);
    expect(after.updatedAt.getTime()).toBeGreaterThan(web7.updatedAt.getTime());
    const updateEntry = await h.db.auditEntry.findFirst({
      where: { revisionNumber: changed.revision!, entityName: "web-7" },
    });
    expect(updateEntry).toMatchObject({ action: "update", before: { version: 1 }, after: { version: 2 } });
  });

  it("a failure at object 900, in the last batch, leaves nothing written", async () => {
    // A real database error part-way through the writes: earlier batches are already inserted.
    await h.db.$executeRawUnsafe(`
      CREATE FUNCTION refuse_web_900() RETURNS trigger AS $$
      BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql`);
    await h.db.$executeRawUnsafe(`
      CREATE TRIGGER refuse_web_900 BEFORE INSERT ON "NetworkPolicy"
      FOR EACH ROW WHEN (NEW.name = 'web-900') EXECUTE FUNCTION refuse_web_900()`);
    try {
      const before = {
        revisions: await revisions(),
        policies: await policies(),
        audit: await h.db.auditEntry.count(),
      };
      const err = await errorOf(async () =>
        (await h.as("operator")).cilium.import({ yaml: manyPolicies(MAX_IMPORT_OBJECTS, "partial") }),
      );
      expect(err.code).toBe("INTERNAL_SERVER_ERROR");
      expect({
        revisions: await revisions(),
        policies: await policies(),
        audit: await h.db.auditEntry.count(),
      }).toEqual(before);
      expect(await h.db.networkPolicy.count({ where: { namespace: "partial" } })).toBe(0);
    } finally {
      await h.db.$executeRawUnsafe(`DROP TRIGGER refuse_web_900 ON "NetworkPolicy"`);
      await h.db.$executeRawUnsafe("DROP FUNCTION refuse_web_900");
    }
  });

  it("a thousand broken documents are reported as the first hundred and a count", async () => {
    const yaml = manyPolicies(MAX_IMPORT_OBJECTS, "broken").replaceAll('port: "80"', 'port: "-80"');
    const err = await errorOf(async () => (await h.as("operator")).cilium.import({ yaml }));
    const keys = Object.keys(err.fieldErrors ?? {});
    expect(keys).toHaveLength(101);
    expect(keys[0]).toBe("yaml.document 0.spec.ingress[0].toPorts[0].ports[0].port");
    expect(err.fieldErrors?.yaml).toEqual(["and 900 more problems"]);
  });

  it("an invalid object at 900 is named by its document and nothing is written", async () => {
    const docs = manyPolicies(MAX_IMPORT_OBJECTS, "invalid").split("---\n");
    docs[900] = docs[900]!.replace('"web-900"', '"Web_900"');
    const before = await revisions();
    const err = await errorOf(async () =>
      (await h.as("operator")).cilium.import({ yaml: docs.join("---\n") }),
    );
    expect(Object.keys(err.fieldErrors ?? {})).toEqual(["yaml.document 900.metadata.name"]);
    expect(await revisions()).toBe(before);
    expect(await h.db.networkPolicy.count({ where: { namespace: "invalid" } })).toBe(0);
  });
});
