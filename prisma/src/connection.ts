// Turns a failed connection into one line that names the host and the reason.
export function describeConnectionError(connectionString: string, err: unknown): string {
  let host = "(unparseable DATABASE_URL)";
  try {
    const u = new URL(connectionString);
    host = `${u.hostname || "localhost"}:${u.port || "5432"}${u.pathname}`;
  } catch {}
  const e = err as { code?: string; message?: string };
  const reasons: Record<string, string> = {
    ECONNREFUSED: "connection refused (is PostgreSQL running and listening there?)",
    ENOTFOUND: "host name not found",
    EAI_AGAIN: "host name could not be resolved",
    ETIMEDOUT: "connection timed out",
    EHOSTUNREACH: "host unreachable",
    "28P01": "password authentication failed",
    "28000": "no access for this user (pg_hba.conf)",
    "3D000": "database does not exist",
  };
  const reason = (e.code && reasons[e.code]) || e.message || String(err);
  return `cannot reach the database at ${host}: ${reason}`;
}
