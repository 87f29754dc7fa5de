import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, errorOf, type Harness } from "../test/harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

describe("revisions", () => {
  it("every change is one revision with author, message and before/after", async () => {
    const op = await h.as("operator");
    const p = await op.policies.create({
      namespace: "a",
      name: "p1",
      spec: { endpointSelector: {} },
      message: "first policy",
    });
    const rev = await (await h.as("viewer")).audit.get({ number: p.revision });
    expect(rev).toMatchObject({
      message: "first policy",
      authorKind: "token",
      authorName: "operator@test.local (token operator token)",
    });
    expect(rev.entries).toEqual([
      expect.objectContaining({
        entityType: "NetworkPolicy",
        entityId: p.id,
        action: "create",
        before: null,
      }),
    ]);
    const list = await (await h.as("viewer")).audit.list({ entityId: p.id });
    expect(list.items.map((r) => r.number)).toEqual([p.revision]);
  });

  it("diffs any two revisions field by field, in either direction", async () => {
    const op = await h.as("operator");
    const p = await op.policies.create({
      namespace: "a",
      name: "p2",
      spec: { endpointSelector: { matchLabels: { app: "x" } } },
    });
    const u = await op.policies.update({
      id: p.id,
      version: p.version,
      spec: { endpointSelector: { matchLabels: { app: "y" } } },
    });
    const viewer = await h.as("viewer");
    const d = await viewer.audit.diff({ from: p.revision, to: u.revision! });
    expect(d.changes).toEqual([
      expect.objectContaining({
        entityName: "p2",
        change: "modified",
        fields: [{ path: "spec.endpointSelector.matchLabels.app", before: "x", after: "y" }],
      }),
    ]);
    const back = await viewer.audit.diff({ from: u.revision!, to: p.revision - 1 });
    expect(back.changes).toEqual([expect.objectContaining({ entityName: "p2", change: "removed" })]);
  });

  it("restores an earlier revision as a new revision: edits undone, deletions back, later additions removed", async () => {
    const op = await h.as("operator");
    const keep = await op.policies.create({
      namespace: "r",
      name: "keep",
      spec: { endpointSelector: { matchLabels: { v: "1" } } },
    });
    const gone = await op.policies.create({ namespace: "r", name: "gone", spec: { endpointSelector: {} } });
    const target = gone.revision;
    await op.policies.update({
      id: keep.id,
      version: keep.version,
      spec: { endpointSelector: { matchLabels: { v: "2" } } },
    });
    await op.policies.delete({ id: gone.id, version: gone.version });
    const later = await op.policies.create({ namespace: "r", name: "later", spec: { endpointSelector: {} } });

    const restored = await op.audit.restore({ number: target });
    expect(restored.changed).toBe(3);
    expect(restored.revision).toBeGreaterThan(later.revision);

    const names = (await op.policies.list({ namespace: "r" })).items.map((x) => [
      x.name,
      x.spec.endpointSelector.matchLabels,
    ]);
    expect(names).toEqual([
      ["gone", undefined],
      ["keep", { v: "1" }],
    ]);
    // The restored state equals the target state.
    const d = await op.audit.diff({ from: target, to: restored.revision! });
    expect(d.changes.filter((c) => c.entityName !== "p1" && c.entityName !== "p2")).toEqual([]);
    // Restoring twice changes nothing more.
    expect((await op.audit.restore({ number: target })).changed).toBe(0);
  });

  it("restoring needs the operator role, and a missing revision is NOT_FOUND", async () => {
    expect((await errorOf(async () => (await h.as("viewer")).audit.restore({ number: 1 }))).code).toBe(
      "FORBIDDEN",
    );
    expect((await errorOf(async () => (await h.as("operator")).audit.restore({ number: 99999 }))).code).toBe(
      "NOT_FOUND",
    );
  });
});
