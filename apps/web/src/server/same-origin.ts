// Cookie-bearing form posts (sign-in, sign-out) must come from the console's own pages.
// SameSite=Lax stops other sites, not other origins of the same site (another port on this
// host, a sibling subdomain), so the browser's own word on where the request came from decides.

/**
 * True when the browser says this request came from one of our pages. `Sec-Fetch-Site` is set by
 * the browser and cannot be forged by a page, so it decides when present; otherwise `Origin` must
 * name the host the request was sent to (`Host`, or `X-Forwarded-Host` behind a proxy). A request
 * with neither header is not from a browser that would attach a victim's cookie.
 */
export function isSameOrigin(headers: Headers): boolean {
  const site = headers.get("sec-fetch-site");
  if (site) return site === "same-origin" || site === "none";
  const origin = headers.get("origin");
  if (origin === null) return true;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return false; // "null" (sandboxed frames, some redirects) and anything unparsable
  }
  const hosts = [headers.get("host"), ...(headers.get("x-forwarded-host")?.split(",") ?? [])]
    .map((h) => h?.trim().toLowerCase())
    .filter(Boolean);
  return hosts.includes(originHost.toLowerCase());
}
