import { createTestDatabase, type TestDatabase } from "@meridian/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appRouter, createCallerFactory, createContext, seedDatabase } from "./index";

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
    const { sessionToken } = await createCallerFactory(appRouter)(
      await createContext({ db: tdb.prisma, headers: new Headers() }),
    )
      .auth.login({ email: "admin@meridian.local", password: "wrong" })
      .catch(() => ({ sessionToken: null }));
    expect(sessionToken).toBeNull();
    expect(await tdb.prisma.networkPolicy.count()).toBe(2);
    expect(await tdb.prisma.bgpInstance.count()).toBe(1);
    expect(await tdb.prisma.bgpPeer.count()).toBe(1);
    expect(await tdb.prisma.srv6LocatorPool.count()).toBe(1);
    expect(await tdb.prisma.srv6Vrf.count()).toBe(1);
  });
});
