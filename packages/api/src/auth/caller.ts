// Turns request headers into a Caller: `Authorization: Bearer <api token | node credential |
// session token>` or the `meridian_session` cookie. Expired, revoked or unknown secrets all
// become anonymous, so callers learn nothing from which of them it was.
import type { Db } from "@meridian/db";
import type { Caller, Role } from "../trpc";
import { hashSecret, secretKind } from "./crypto";
import { nodeCredentials } from "./node-credentials";

const SESSION_COOKIE = "meridian_session";

function readCookie(header: string | null, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) {
      // A malformed escape (%E0) is no secret of ours: the caller is anonymous, not a 500.
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

export function bearerOrCookie(headers: Headers): string | null {
  const auth = headers.get("authorization");
  const m = auth ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
  return m?.[1] ?? readCookie(headers.get("cookie"), SESSION_COOKIE);
}

export async function resolveCaller(db: Db, headers: Headers): Promise<Caller> {
  const secret = bearerOrCookie(headers);
  if (!secret) return { kind: "anonymous" };
  const kind = secretKind(secret);
  const hash = hashSecret(secret);
  const now = new Date();
  if (kind === "ses") {
    const s = await db.session.findUnique({ where: { tokenHash: hash }, include: { user: true } });
    if (!s || s.expiresAt <= now || s.user.disabled) return { kind: "anonymous" };
    const user = { id: s.user.id, email: s.user.email, name: s.user.name, role: s.user.role as Role };
    return { kind: "user", user, sessionId: s.id, role: user.role };
  }
  if (kind === "tok") {
    const tok = await db.apiToken.findUnique({ where: { tokenHash: hash }, include: { createdBy: true } });
    if (!tok || tok.revokedAt || (tok.expiresAt && tok.expiresAt <= now) || tok.createdBy.disabled) {
      return { kind: "anonymous" };
    }
    // A token never outranks the person who made it, even if they were demoted later.
    const role = minRole(tok.role as Role, tok.createdBy.role as Role);
    // Best effort: a lost lastUsedAt update must not fail the request.
    if (!tok.lastUsedAt || now.getTime() - tok.lastUsedAt.getTime() > 60_000) {
      db.apiToken.update({ where: { id: tok.id }, data: { lastUsedAt: now } }).catch(() => {});
    }
    const u = tok.createdBy;
    return {
      kind: "token",
      tokenId: tok.id,
      tokenName: tok.name,
      user: { id: u.id, email: u.email, name: u.name, role: u.role as Role },
      role,
    };
  }
  if (kind === "node") {
    // Agents authenticate on every heartbeat and report: batched, see node-credentials.ts.
    const node = await nodeCredentials(db).find(hash);
    if (!node) return { kind: "anonymous" };
    return { kind: "node", nodeId: node.id, nodeName: node.name };
  }
  return { kind: "anonymous" };
}

const ORDER: Role[] = ["viewer", "operator", "admin"];
function minRole(a: Role, b: Role): Role {
  return ORDER[Math.min(ORDER.indexOf(a), ORDER.indexOf(b))]!;
}
