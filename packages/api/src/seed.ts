// First-run data: an admin (with a random password, returned only when created) and a few
// example objects so a fresh console has something to show. Safe to run on every start.
import type { Db } from "@meridian/db";
import {
  bgpInstanceSpecSchema,
  bgpPeerSpecSchema,
  networkPolicySpecSchema,
  srv6LocatorPoolSpecSchema,
  srv6VrfSpecSchema,
} from "@meridian/model";
import { hashPassword, randomPassword, verifyPassword } from "./auth/crypto";
import { commitChange } from "./revisions/commit";
import type { Actor } from "./trpc";

export const DEFAULT_ADMIN_EMAIL = "admin@meridian.local";

const SEED_ACTOR: Actor = { kind: "system", id: null, name: "seed" };

export async function seedDatabase(
  db: Db,
  opts: { adminEmail?: string; adminPassword?: string; examples?: boolean } = {},
): Promise<{ adminEmail: string; adminPassword: string | null }> {
  const adminEmail = opts.adminEmail ?? DEFAULT_ADMIN_EMAIL;
  let adminPassword: string | null = null;
  const existing = await db.user.findUnique({ where: { email: adminEmail } });
  if (!existing) {
    const password = opts.adminPassword ?? randomPassword();
    const passwordHash = await hashPassword(password);
    await commitChange(db, SEED_ACTOR, "create the first admin", async (tx, rec) => {
      // Another process may have seeded meanwhile; the advisory lock makes this check final.
      if (await tx.user.findUnique({ where: { email: adminEmail } })) return;
      const u = await tx.user.create({
        data: { email: adminEmail, name: "Administrator", role: "admin", passwordHash, updatedBy: "seed" },
      });
      rec.record({
        entityType: "User",
        entityId: u.id,
        entityName: u.email,
        action: "create",
        before: null,
        after: u,
      });
      adminPassword = password;
    });
  }
  if (opts.examples !== false) await seedExamples(db);
  return { adminEmail, adminPassword };
}

/**
 * Whether `password` signs `email` in, without signing in: `npm start` checks the password it
 * kept for this database before printing it, since the account may have changed since.
 */
export async function checkPassword(
  db: Db,
  email: string,
  password: string,
): Promise<"ok" | "wrong" | "disabled" | "no such user"> {
  const user = await db.user.findUnique({ where: { email } });
  if (!user) return "no such user";
  if (!(await verifyPassword(password, user.passwordHash))) return "wrong";
  return user.disabled ? "disabled" : "ok";
}

/**
 * `npm run admin -- reset-password`: a new random password for a user who cannot sign in
 * (password lost, or account disabled). Their sessions end, as with a password change in the console.
 */
export async function resetPassword(
  db: Db,
  email: string,
): Promise<{ email: string; password: string; wasDisabled: boolean }> {
  const password = randomPassword();
  const passwordHash = await hashPassword(password);
  const actor: Actor = { kind: "system", id: null, name: "npm run admin" };
  const { value } = await commitChange(db, actor, "reset a password", async (tx, rec) => {
    const before = await tx.user.findUnique({ where: { email } });
    if (!before) {
      const admins = await tx.user.findMany({ where: { role: "admin" }, select: { email: true } });
      throw new Error(
        `no user ${email} in this database${admins.length ? ` (its admins: ${admins.map((a) => a.email).join(", ")})` : ""}`,
      );
    }
    const after = await tx.user.update({
      where: { id: before.id },
      data: { passwordHash, disabled: false, version: { increment: 1 }, updatedBy: actor.name },
    });
    await tx.session.deleteMany({ where: { userId: before.id } });
    rec.record({
      entityType: "User",
      entityId: after.id,
      entityName: after.email,
      action: "update",
      before,
      after,
    });
    return { email: after.email, password, wasDisabled: before.disabled };
  });
  return value;
}

/** Examples go in once, in one revision, and only into an empty model. */
async function seedExamples(db: Db) {
  await commitChange(db, SEED_ACTOR, "example objects", async (tx, rec) => {
    const counts = await Promise.all([
      tx.networkPolicy.count(),
      tx.bgpInstance.count(),
      tx.srv6LocatorPool.count(),
    ]);
    if (counts.some((c) => c > 0)) return;
    const add = async (entityType: string, row: { id: string; name: string }) =>
      rec.record({
        entityType,
        entityId: row.id,
        entityName: row.name,
        action: "create",
        before: null,
        after: row,
      });

    const allowDns = networkPolicySpecSchema.parse({
      endpointSelector: { matchLabels: { app: "frontend" } },
      egress: [
        {
          toEndpoints: [
            { matchLabels: { "k8s:io.kubernetes.pod.namespace": "kube-system", "k8s-app": "kube-dns" } },
          ],
          toPorts: [
            { ports: [{ port: "53", protocol: "ANY" }], rules: { dns: [{ matchPattern: "*.example.com" }] } },
          ],
        },
        {
          toFQDNs: [{ matchName: "api.example.com" }],
          toPorts: [{ ports: [{ port: "443", protocol: "TCP" }] }],
        },
      ],
    });
    await add(
      "NetworkPolicy",
      await tx.networkPolicy.create({
        data: {
          namespace: "default",
          name: "frontend-egress",
          description: "frontend may resolve and call api.example.com",
          spec: allowDns as object,
          updatedBy: "seed",
        },
      }),
    );
    const backend = networkPolicySpecSchema.parse({
      endpointSelector: { matchLabels: { app: "backend" } },
      ingress: [
        {
          fromEndpoints: [{ matchLabels: { app: "frontend" } }],
          toPorts: [{ ports: [{ port: "8080", protocol: "TCP" }] }],
        },
      ],
    });
    await add(
      "NetworkPolicy",
      await tx.networkPolicy.create({
        data: {
          namespace: "default",
          name: "backend-ingress",
          description: "only the frontend reaches the backend",
          spec: backend as object,
          updatedBy: "seed",
        },
      }),
    );

    const instance = bgpInstanceSpecSchema.parse({
      nodeSelector: { matchLabels: { "meridian.io/bgp": "enabled" } },
      localASN: 64512,
    });
    await add(
      "BgpInstance",
      await tx.bgpInstance.create({ data: { name: "tor", spec: instance as object, updatedBy: "seed" } }),
    );
    const { password: _none, ...peer } = bgpPeerSpecSchema.parse({
      instance: "tor",
      address: "192.168.100.1",
      peerASN: 65000,
    });
    await add(
      "BgpPeer",
      await tx.bgpPeer.create({
        data: { name: "tor-router", instanceName: "tor", spec: peer as object, updatedBy: "seed" },
      }),
    );

    const pool = srv6LocatorPoolSpecSchema.parse({
      prefix: "fd00:5::/48",
      locatorLength: 64,
      structure: { locatorBlockLength: 48, locatorNodeLength: 16, functionLength: 16, argumentLength: 0 },
    });
    await add(
      "Srv6LocatorPool",
      await tx.srv6LocatorPool.create({
        data: { name: "default", prefix: pool.prefix, spec: pool as object, updatedBy: "seed" },
      }),
    );
    const vrf = srv6VrfSpecSchema.parse({
      vrfID: 100,
      locatorPool: "default",
      routeDistinguisher: "64512:100",
      importRouteTargets: ["64512:100"],
      exportRouteTargets: ["64512:100"],
      memberSelector: { matchLabels: { vpn: "blue" } },
    });
    await add(
      "Srv6Vrf",
      await tx.srv6Vrf.create({
        data: { name: "blue", vrfId: BigInt(vrf.vrfID), spec: vrf as object, updatedBy: "seed" },
      }),
    );
  });
}
