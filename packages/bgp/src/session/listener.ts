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

  /** Addresses that were given an MD5 key on the listening socket. */
  private keyed = new Set<string>();

  /**
   * Lets the transport install per-peer socket options (TCP-MD5 keys) on the listening socket, and
   * take off the keys of peers that no longer have one (else their unsigned connections would
   * still be dropped by the kernel).
   */
  configure(peers: { address: string; md5Password?: string }[]): void {
    if (!this.server) return;
    const keyed = new Set(peers.filter((p) => p.md5Password).map((p) => p.address));
    const removed = [...this.keyed].filter((a) => !keyed.has(a));
    this.keyed = keyed;
    this.transport?.configureServer?.(this.server, peers, removed);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
    });
  }
}

/** What a shared listener asks of each speaker attached to it. */
export interface ListenerClient {
  /** The session for a remote address, when this client has that peer configured. */
  sessionFor(address: string): Session | undefined;
  /** Every configured peer with its MD5 key, for the transport's listener hook. */
  listenerPeers(): { address: string; md5Password?: string }[];
}

/**
 * One passive socket (normally :179) for several speakers — BGP instances with different local
 * ASNs on one host. An accepted connection goes to the speaker that has its source address as a
 * peer; strangers are closed as by `Listener`. A peer address may belong to one speaker only,
 * or a connection could not be told apart: `owner` lets a speaker check before adding a peer.
 */
export class SharedListener {
  private readonly clients = new Set<ListenerClient>();
  private readonly listener: Listener;
  private started?: Promise<number>;
  port?: number;

  constructor(private readonly opts: { port?: number; host?: string; transport?: Transport } = {}) {
    this.listener = new Listener((addr) => {
      for (const c of this.clients) {
        const s = c.sessionFor(addr);
        if (s) return s;
      }
      return undefined;
    }, opts.transport);
  }

  /** Binds the socket once; later calls return the same port. */
  start(): Promise<number> {
    this.started ??= this.listener.listen(this.opts.port ?? 179, this.opts.host ?? "::").then((port) => {
      this.port = port;
      this.refresh();
      return port;
    });
    return this.started;
  }

  attach(client: ListenerClient): void {
    this.clients.add(client);
    this.refresh();
  }

  /** The speaker leaves; its peers' connections are refused from now on. The socket stays open. */
  detach(client: ListenerClient): void {
    this.clients.delete(client);
    this.refresh();
  }

  /** The client, other than `except`, that has `address` as a peer. */
  owner(address: string, except?: ListenerClient): ListenerClient | undefined {
    for (const c of this.clients) if (c !== except && c.sessionFor(address)) return c;
    return undefined;
  }

  get size(): number {
    return this.clients.size;
  }

  /** Hands every client's peers (MD5 keys) to the transport; called when peers change. */
  refresh(): void {
    if (this.port === undefined) return;
    this.listener.configure([...this.clients].flatMap((c) => c.listenerPeers()));
  }

  close(): Promise<void> {
    this.clients.clear();
    return this.listener.close();
  }
}
