// Who is signing in, as far as the network can tell: the per-address sign-in throttle's key.
// Only a server layer may say it (the node:http server here, the console's instrumentation hook),
// and it always overwrites what the client sent, so a client cannot choose its own address.
import type { IncomingMessage } from "node:http";

export const CLIENT_ADDRESS_HEADER = "x-meridian-client-address";

/**
 * The socket's peer, or with `trustedProxyHops` reverse proxies in front of us the address the
 * outermost of them saw (that many entries from the right of X-Forwarded-For). Entries further
 * left were written by the client and prove nothing.
 */
export function clientAddressOf(
  req: IncomingMessage,
  trustedProxyHops = trustedHopsFromEnv(),
): string | null {
  const socket = req.socket?.remoteAddress ?? null;
  if (trustedProxyHops <= 0) return socket;
  const forwarded = String(req.headers["x-forwarded-for"] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return forwarded[forwarded.length - trustedProxyHops] ?? socket;
}

/** Sets the header on an incoming request, replacing whatever the client put there. */
export function stampClientAddress(req: IncomingMessage, trustedProxyHops?: number): void {
  const address = clientAddressOf(req, trustedProxyHops);
  if (address) req.headers[CLIENT_ADDRESS_HEADER] = address;
  else delete req.headers[CLIENT_ADDRESS_HEADER];
}

function trustedHopsFromEnv(): number {
  const n = Number(process.env.MERIDIAN_TRUSTED_PROXY_HOPS ?? 0);
  return Number.isInteger(n) && n > 0 ? n : 0;
}
