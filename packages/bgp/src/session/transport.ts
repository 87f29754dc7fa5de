import net from "node:net";
import { isIpv6 } from "../codec/ip.js";

interface TcpHandle {
  fd: number;
  bind(address: string, port: number): number;
  bind6(address: string, port: number, flags: number): number;
}

/**
 * Opens a TCP connection and calls `beforeConnect(fd)` after the socket exists but before its SYN.
 * TCP-MD5 (RFC 2385) keys must be on the socket by then, and Node has no such hook: the host is
 * given as a name so Node asks our `lookup`, where we bind the handle ourselves (creating the fd),
 * run the hook, and hand back the real address.
 */
export function connectWithHook(
  opts: { host: string; port: number; localAddress?: string },
  beforeConnect: (fd: number) => void,
): net.Socket {
  const socket = new net.Socket();
  const family = isIpv6(opts.host) ? 6 : 4;
  socket.connect({
    host: "bgp-peer.invalid",
    port: opts.port,
    family,
    // One handle, one attempt: happy-eyeballs would open fresh handles without our socket options.
    autoSelectFamily: false,
    lookup: (_name, lookupOpts, cb) => {
      const handle = (socket as unknown as { _handle?: TcpHandle })._handle;
      try {
        if (!handle) throw new Error("socket handle missing before connect");
        const rc =
          family === 6
            ? handle.bind6(opts.localAddress ?? "::", 0, 0)
            : handle.bind(opts.localAddress ?? "0.0.0.0", 0);
        if (rc < 0) throw new Error(`bind ${opts.localAddress ?? "any"} failed (${rc})`);
        beforeConnect(handle.fd);
      } catch (e) {
        (cb as (err: Error) => void)(e as Error);
        return;
      }
      if ((lookupOpts as { all?: boolean }).all) {
        (cb as (err: null, addrs: { address: string; family: number }[]) => void)(null, [
          { address: opts.host, family },
        ]);
      } else cb(null, opts.host, family);
    },
  });
  return socket;
}
