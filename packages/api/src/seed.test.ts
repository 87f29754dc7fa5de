import { createTestDatabase, type TestDatabase } from "@meridian/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter, createCallerFactory, createContext, seedDatabase } from "./index";
import { checkPassword, resetPassword } from "./seed";

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb.drop());

describe("seedDatabase", () => {
  it("creates the admin once, returns the password only then, and the password signs in", async () => {
    const first = await seedDatabase(tdb.prisma);
    expect(first.adminEmail).toBe("admin@meridian.local");
    expect(first.adminPassword).toEqual(expect.any(String));
    const again = await seedDatabase(tdb.prisma);
    expect(again.adminPassword).toBeNull();

    const caller = createCallerFactory(appRouter)(
      await createContext({ db: tdb.prisma, headers: new Headers() }),
    );
    const login = await caller.auth.login({ email: first.adminEmail, password: first.adminPassword! });
    expect(login.user.role).toBe("admin");
  });

  it("adds the example objects once, and they read back through the API", async () => {
    await seedDatabase(tdb.prisma);
    await seedDatabase(tdb.prisma);
    // A session signed in through the API (an admin the seed makes) reads what the seed made.
    const email = "seed-reader@meridian.local";
    const password = "a password for the seed reader";
    await seedDatabase(tdb.prisma, { adminEmail: email, adminPassword: password, examples: false });
    const anon = createCallerFactory(appRouter)(
      await createContext({ db: tdb.prisma, headers: new Headers() }),
    );
    const { sessionToken } = await anon.auth.login({ email, password });
    const api = createCallerFactory(appRouter)(
      await createContext({
        db: tdb.prisma,
        headers: new Headers({ cookie: `meridian_session=${sessionToken}` }),
      }),
    );
    const names = (page: { items: { name: string; namespace?: unknown }[] }) =>
      page.items.map((i) => (i.namespace ? `${i.namespace}/${i.name}` : i.name));
    expect(names(await api.policies.list({}))).toEqual([
      "default/backend-ingress",
      "default/frontend-egress",
    ]);
    expect(names(await api.bgp.instances.list({}))).toEqual(["tor"]);
    const peers = await api.bgp.peers.list({});
    expect(names(peers)).toEqual(["tor-router"]);
    expect(peers.items[0]!.spec.instance).toBe("tor");
    expect(names(await api.srv6.locatorPools.list({}))).toEqual(["default"]);
    expect(names(await api.srv6.vrfs.list({}))).toEqual(["blue"]);
    // And a wrong password is refused, through the API too.
    expect(await anon.auth.login({ email, password: "wrong" }).catch(() => "refused")).toBe("refused");
  });

  it("checks a kept password against the account as it is now", async () => {
    const email = "checked@meridian.local";
    const { adminPassword } = await seedDatabase(tdb.prisma, { adminEmail: email, examples: false });
    expect(await checkPassword(tdb.prisma, email, adminPassword!)).toBe("ok");
    expect(await checkPassword(tdb.prisma, email, "something else")).toBe("wrong");
    expect(await checkPassword(tdb.prisma, "nobody@meridian.local", adminPassword!)).toBe("no such user");
    await tdb.prisma.user.update({ where: { email }, data: { disabled: true } });
    expect(await checkPassword(tdb.prisma, email, adminPassword!)).toBe("disabled");
  });

  it("reset-password: a new password that signs in, the old one and every session refused, audited without the hash", async () => {
    const email = "reset@meridian.local";
    const { adminPassword: old } = await seedDatabase(tdb.prisma, { adminEmail: email, examples: false });
    const caller = createCallerFactory(appRouter)(
      await createContext({ db: tdb.prisma, headers: new Headers() }),
    );
    const { sessionToken } = await caller.auth.login({ email, password: old! });
    await tdb.prisma.user.update({ where: { email }, data: { disabled: true } });

    const r = await resetPassword(tdb.prisma, email);
    expect(r).toEqual({ email, password: expect.any(String), wasDisabled: true });
    expect((await caller.auth.login({ email, password: r.password })).user.email).toBe(email);
    await expect(caller.auth.login({ email, password: old! })).rejects.toThrow("wrong email or password");
    const sessions = await tdb.prisma.session.findMany({ where: { user: { email } } });
    expect(sessions).toHaveLength(1); // only the sign-in with the new password
    const withOldSession = createCallerFactory(appRouter)(
      await createContext({
        db: tdb.prisma,
        headers: new Headers({ authorization: `Bearer ${sessionToken}` }),
      }),
    );
    await expect(withOldSession.users.list({})).rejects.toThrow("sign in or send a valid API token");
    const audit = await tdb.prisma.auditEntry.findFirst({
      where: { entityName: email, action: "update" },
      orderBy: { revisionNumber: "desc" },
    });
    expect(JSON.stringify(audit?.after)).not.toContain("scrypt");
  });

  it("reset-password for a missing user names the admins that exist", async () => {
    await expect(resetPassword(tdb.prisma, "ghost@meridian.local")).rejects.toThrow(
      /^no user ghost@meridian\.local in this database \(its admins: .*admin@meridian\.local/,
    );
  });
});
