// The sign-in throttle needs to know who is signing in. `next start` keeps an X-Forwarded-For
// that the client sent (it only fills the header in when it is missing), and neither Proxy nor
// route handlers can see the socket, so the address is stamped on the raw request before Next
// reads it: the socket's peer, or with MERIDIAN_TRUSTED_PROXY_HOPS set the address the outermost
// trusted proxy saw (packages/api/src/auth/client-address.ts). Whatever the client put in that
// header is replaced. Requests that arrive before the server has started are not stamped and are
// throttled per account only.
import http, { type IncomingMessage } from "node:http";
import { stampClientAddress } from "@meridian/api/client-address";

type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

export function stampClientAddresses(): void {
  const proto = http.Server.prototype as unknown as { emit: Emit & { stampsClientAddress?: true } };
  if (proto.emit.stampsClientAddress) return;
  const emit = proto.emit;
  const stamping: Emit = function (event, ...args) {
    if (event === "request") stampClientAddress(args[0] as IncomingMessage);
    return emit.call(this, event, ...args);
  };
  proto.emit = Object.assign(stamping, { stampsClientAddress: true as const });
}
