import net from "node:net";
import type { Session } from "./session.js";
import type { Transport } from "./types.js";

/**
 * The passive side: one TCP listener for all peers. A connection is handed to the session configured
 * for its source address; strangers are closed without a word (no OPEN leaks our identity).
 */
export class Listener {
  private server?: net.Server;
  constructor(
    private readonly lookup: (address: string) => Session | undefined,
    private readonly transport?: Transport,
  ) {}

  listen(port = 179, host = "::"): Promise<number> {
    const server = net.createServer((socket) => {
      const addr = (socket.remoteAddress ?? "").replace(/^::ffff:/, "");
      const session = this.lookup(addr);
      if (!session) socket.destroy();
      else session.accept(socket);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port, host, ipv6Only: false }, () => {
        server.off("error", reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  /** Lets the transport install per-peer socket options (TCP-MD5 keys) on the listening socket. */
  configure(peers: { address: string; md5Password?: string }[]): void {
    if (this.server) this.transport?.configureServer?.(this.server, peers);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
    });
  }
}
