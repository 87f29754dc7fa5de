// Cookie-authenticated writes must come from the console's own pages. SameSite=lax keeps other
// sites' cookies out, but not other origins of the same site (another port on this host, a sibling
// subdomain), and a cross-origin `multipart/form-data` POST needs no CORS preflight. Browsers say
// where a request comes from (`Origin`, `Sec-Fetch-Site`) and a page cannot forge either, so we
// refuse a write whose browser says it came from elsewhere. Bearer-token automation is untouched:
// a browser can only send an `Authorization` header cross-origin after a CORS preflight we never
// answer.

/** Extra origins that may write (behind a proxy that rewrites Host): MERIDIAN_PUBLIC_ORIGIN, comma-separated. */
function configuredOrigins(): string[] {
  return (process.env.MERIDIAN_PUBLIC_ORIGIN ?? "")
    .split(",")
    .map((s) => s.trim().replace(/\/+$/, ""))
    .filter(Boolean);
}

function hostOf(origin: string): string | null {
  try {
    const u = new URL(origin);
    return u.protocol === "http:" || u.protocol === "https:" ? u.host : null;
  } catch {
    return null;
  }
}

/**
 * Why this write must be refused as cross-origin, or null. `headers` are the request's; a write
 * with a bearer credential, or with neither `Origin` nor `Sec-Fetch-Site` (not a browser), passes.
 */
export function crossOriginProblem(headers: Headers): string | null {
  if (/^Bearer\s+\S+$/i.test(headers.get("authorization") ?? "")) return null;
  const site = headers.get("sec-fetch-site");
  const origin = headers.get("origin");
  if (site && site !== "same-origin" && site !== "none") {
    return `cross-origin request refused: the browser says it came from a ${site} page`;
  }
  if (origin === null) return null;
  const normalized = origin.replace(/\/+$/, "");
  if (configuredOrigins().includes(normalized)) return null;
  const host = headers.get("x-forwarded-host")?.split(",")[0]?.trim() || headers.get("host");
  const from = hostOf(normalized);
  if (from && host && from === host.toLowerCase()) return null;
  return `cross-origin request refused: it came from ${origin.slice(0, 100)}, not from this console${host ? ` (${host.slice(0, 100)})` : ""}`;
}
