// The headers every console response carries, in one place (proxy.ts applies them). Pages get a
// nonce-based Content-Security-Policy: Next puts the nonce on its own inline and chunk scripts
// and 'strict-dynamic' lets those load the rest, so no other script can run even if markup were
// injected. API answers are data: nothing may run or frame them, and nothing may cache them
// (they carry secrets such as a new token's).

export interface RequestFacts {
  pathname: string;
  /** Served over TLS, directly or behind a proxy that says so (X-Forwarded-Proto). */
  https: boolean;
  dev: boolean;
}

/** The API's answers, and Prometheus' /metrics: no page CSP, no cache. */
export const isApiPath = (pathname: string) =>
  pathname === "/api" || pathname.startsWith("/api/") || pathname === "/metrics";

export function pageContentSecurityPolicy(nonce: string, facts: Pick<RequestFacts, "https" | "dev">): string {
  const directives = [
    "default-src 'self'",
    // React's development build evaluates code for its error overlay; production never does.
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${facts.dev ? " 'unsafe-eval'" : ""}`,
    // Next's stylesheets are files; the development server injects style tags without a nonce.
    `style-src 'self' ${facts.dev ? "'unsafe-inline'" : `'nonce-${nonce}'`}`,
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ];
  if (facts.https) directives.push("upgrade-insecure-requests");
  return directives.join("; ");
}

const API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'";

const PERMISSIONS_POLICY = [
  "accelerometer=()",
  "camera=()",
  "geolocation=()",
  "gyroscope=()",
  "magnetometer=()",
  "microphone=()",
  "payment=()",
  "usb=()",
].join(", ");

/** Everything but the page CSP, whose nonce is per request. */
export function securityHeaders(facts: RequestFacts): Record<string, string> {
  const headers: Record<string, string> = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "permissions-policy": PERMISSIONS_POLICY,
    "cross-origin-opener-policy": "same-origin",
  };
  // Browsers ignore HSTS over plain HTTP; sending it there would only mislead.
  if (facts.https) headers["strict-transport-security"] = "max-age=31536000; includeSubDomains";
  if (isApiPath(facts.pathname)) {
    headers["cache-control"] = "no-store";
    headers["content-security-policy"] = API_CONTENT_SECURITY_POLICY;
  }
  return headers;
}

/** 128 random bits, base64: unguessable per response. */
export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}
