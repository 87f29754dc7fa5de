import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, errorOf, type Harness, PASSWORD } from "../test/harness";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

describe("sign-in", () => {
  it("a correct password returns a session that authenticates as that user; logout ends it", async () => {
    const anon = await h.anon();
    const login = await anon.auth.login({ email: "Operator@Test.local", password: PASSWORD });
    expect(login.user).toMatchObject({ email: "operator@test.local", role: "operator" });
    expect(login.sessionToken).toMatch(/^mrd_ses_/);

    const me = await (await h.withToken(login.sessionToken)).auth.me();
    expect(me).toMatchObject({ kind: "user", role: "operator", user: { email: "operator@test.local" } });

    await (await h.withToken(login.sessionToken)).auth.logout();
    expect(await (await h.withToken(login.sessionToken)).auth.me()).toBeNull();
  });

  it("a wrong password and an unknown email get the same answer", async () => {
    const anon = await h.anon();
    const wrong = await errorOf(() =>
      anon.auth.login({ email: "admin@test.local", password: "nope-nope-nope" }),
    );
    const unknown = await errorOf(() =>
      anon.auth.login({ email: "ghost@test.local", password: "nope-nope-nope" }),
    );
    expect(wrong).toEqual(unknown);
    expect(wrong.code).toBe("UNAUTHORIZED");
  });

  it("the session cookie works like a bearer token", async () => {
    const anon = await h.anon();
    const { sessionToken } = await anon.auth.login({ email: "viewer@test.local", password: PASSWORD });
    const { createContext, createCallerFactory, appRouter } = await import("../index");
    const ctx = await createContext({
      db: h.db,
      headers: new Headers({ cookie: `other=1; meridian_session=${sessionToken}` }),
    });
    const me = await createCallerFactory(appRouter)(ctx).auth.me();
    expect(me?.role).toBe("viewer");
  });
});

describe("users (admin)", () => {
  it("creates a user who can then sign in, and never returns a password hash", async () => {
    const admin = await h.as("admin");
    const u = await admin.users.create({
      email: "noc@example.net",
      name: "NOC",
      role: "viewer",
      password: "a-long-enough-password",
    });
    expect(u).not.toHaveProperty("passwordHash");
    const login = await (await h.anon()).auth.login({
      email: "noc@example.net",
      password: "a-long-enough-password",
    });
    expect(login.user.role).toBe("viewer");
    const list = await admin.users.list({});
    expect(list.items.map((x) => x.email)).toContain("noc@example.net");
    expect(JSON.stringify(list)).not.toContain("scrypt$");
  });

  it("rejects a duplicate email and a short password by field", async () => {
    const admin = await h.as("admin");
    const dup = await errorOf(() =>
      admin.users.create({
        email: "viewer@test.local",
        role: "viewer",
        password: "another-long-password",
        name: "",
      }),
    );
    expect(dup.fieldErrors).toEqual({ email: ["a user with email viewer@test.local already exists"] });
    const short = await errorOf(() =>
      admin.users.create({ email: "x@test.local", role: "viewer", password: "short", name: "" }),
    );
    expect(short.fieldErrors?.password?.[0]).toMatch(/at least 12/);
  });

  it("a stale version is a conflict that names who changed the user", async () => {
    const admin = await h.as("admin");
    const u = await admin.users.create({
      email: "stale@test.local",
      role: "viewer",
      password: "a-long-enough-password",
      name: "",
    });
    await admin.users.update({ id: u.id, version: u.version, name: "first" });
    const err = await errorOf(() => admin.users.update({ id: u.id, version: u.version, name: "second" }));
    expect(err.code).toBe("CONFLICT");
    expect(err.message).toContain("admin@test.local (token admin token)");
  });

  it("disabling a user ends their sessions", async () => {
    const admin = await h.as("admin");
    const u = await admin.users.create({
      email: "leaver@test.local",
      role: "operator",
      password: "a-long-enough-password",
      name: "",
    });
    const { sessionToken } = await (await h.anon()).auth.login({
      email: "leaver@test.local",
      password: "a-long-enough-password",
    });
    await admin.users.update({ id: u.id, version: u.version, disabled: true });
    expect(await (await h.withToken(sessionToken)).auth.me()).toBeNull();
  });
});

describe("API tokens (admin)", () => {
  it("shows the secret once, lists only the prefix, and stops working when revoked or expired", async () => {
    const admin = await h.as("admin");
    const created = await admin.apiTokens.create({ name: "ci", role: "operator" });
    expect(created.secret.startsWith(created.token.prefix)).toBe(true);
    const listed = await admin.apiTokens.list({});
    expect(JSON.stringify(listed)).not.toContain(created.secret);

    const asToken = await h.withToken(created.secret);
    expect((await asToken.auth.me())?.role).toBe("operator");

    await admin.apiTokens.revoke({ id: created.token.id });
    expect(await (await h.withToken(created.secret)).auth.me()).toBeNull();

    const soon = await admin.apiTokens.create({
      name: "short-lived",
      role: "viewer",
      expiresAt: new Date(Date.now() + 60_000),
    });
    await h.db.apiToken.update({
      where: { id: soon.token.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const expired = await errorOf(async () => (await h.withToken(soon.secret)).policies.list({}));
    expect(expired.code).toBe("UNAUTHORIZED");
  });

  it("a token never outranks the user who created it", async () => {
    const admin = await h.as("admin");
    const u = await admin.users.create({
      email: "demoted@test.local",
      role: "admin",
      password: "a-long-enough-password",
      name: "",
    });
    const { sessionToken } = await (await h.anon()).auth.login({
      email: "demoted@test.local",
      password: "a-long-enough-password",
    });
    const tok = await (await h.withToken(sessionToken)).apiTokens.create({ name: "mine", role: "admin" });
    await admin.users.update({ id: u.id, version: u.version, role: "viewer" });
    expect((await (await h.withToken(tok.secret)).auth.me())?.role).toBe("viewer");
  });
});
