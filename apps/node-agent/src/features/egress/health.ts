// Gateway health for egress failover, checked by the agents themselves over the node network: the
// path steered traffic takes to a gateway. Every agent with the egress datapath answers probes
// (UDP, EGRESS_HEALTH_PORT on its node addresses) with the policies it cannot serve as a gateway
// (its uplink is down, or it has no egress IP); every agent that takes part in a policy probes
// the policy's other gateways at the policy's `ha.healthCheckIntervalMs` and takes a gateway for
// failed when no answer came for `ha.healthCheckTimeoutMs`, or it says it cannot serve the policy.
//
// Why here and not in the control plane: a gateway's failure is seen by the nodes that use it
// within a timeout of a few probe intervals (default 100 ms / 400 ms), while the control plane
// learns it from missed heartbeats seconds later and needs a revision round-trip on top. The
// control plane stays the source of intent: it orders the gateways (compiler, `gateways[]`), and
// an agent only chooses among that list, the first healthy one (failover.ts); it never adds a
// gateway nor changes the order. Every node applying the same rule to the same probes converges
// on the same gateway, and a recovered gateway takes back new connections once it has answered
// for a whole timeout (no flapping on one lucky probe).
import { type ChildProcess, spawn } from "node:child_process";
import dgram from "node:dgram";
import { isIPv4 } from "node:net";
import { z } from "zod";
import { type IpLink, ipJson } from "../../routing/exec.js";

export const EGRESS_HEALTH_PORT = 4791;
/** A probe or an answer never exceeds this (one datagram, well under any MTU on the path). */
const MAX_DATAGRAM = 1200;
const MAGIC = "meridian-egw/1";

const probeSchema = z.strictObject({
  m: z.literal(MAGIC),
  t: z.literal("probe"),
  seq: z
    .number()
    .int()
    .nonnegative()
    .max(2 ** 32),
  from: z.string().max(253),
});
const ackSchema = z.strictObject({
  m: z.literal(MAGIC),
  t: z.literal("ack"),
  seq: z
    .number()
    .int()
    .nonnegative()
    .max(2 ** 32),
  node: z.string().max(253),
  /** Policies this gateway cannot serve now (uplink down, no egress IP). */
  down: z.array(z.string().max(253)).max(64),
});

function decode<T>(schema: z.ZodType<T>, buf: Buffer): T | undefined {
  if (buf.length > MAX_DATAGRAM) return undefined;
  try {
    const r = schema.safeParse(JSON.parse(buf.toString("utf8")));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** One gateway to probe: its node, the address steered traffic goes to, and how often. */
export interface ProbeTarget {
  node: string;
  address: string;
  intervalMs: number;
  timeoutMs: number;
}

interface TargetState extends ProbeTarget {
  since: number;
  lastSentAt: number;
  lastAckAt?: number;
  seq: number;
  down: Set<string>;
  /** Taken for failed (timeout) at this time; cleared once it answered for a whole timeout. */
  failedAt?: number;
  answeringSince?: number;
}

export interface GatewayHealth {
  /** Healthy for this policy now. */
  healthy: boolean;
  /** When the last answer came (ms since the epoch), if ever. */
  lastAckAt?: number;
  /** Why it is not healthy. */
  reason?: "timeout" | "recovering" | "cannot serve";
}

/**
 * Probes and answers. `onChange` runs when a gateway's health may have changed (a timeout passed,
 * an answer after a failure, a change in what a gateway says it cannot serve); the caller
 * re-selects and rewrites the datapath if the selection moved.
 */
export class EgressHealth {
  private readonly sockets: dgram.Socket[] = [];
  private readonly byFamily = new Map<4 | 6, dgram.Socket>();
  private readonly targets = new Map<string, TargetState>();
  private timer?: NodeJS.Timeout;
  private seq = 1;
  private last = new Map<string, string>();

  constructor(
    private readonly opts: {
      nodeName: string;
      port?: number;
      /** Bind to this one address only (tests on loopback); default: every address, both families. */
      bind?: string;
      /** The policies this node cannot serve as a gateway, for its answers. */
      cannotServe: () => string[];
      onChange: () => void;
      now?: () => number;
      log?: (msg: string, err?: unknown) => void;
    },
  ) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  async start(): Promise<void> {
    const port = this.opts.port ?? EGRESS_HEALTH_PORT;
    // One socket per family: answers go out from the address the probe came to.
    const only = this.opts.bind;
    const types = only ? [isIPv4(only) ? ("udp4" as const) : ("udp6" as const)] : (["udp4", "udp6"] as const);
    for (const type of types) {
      const s = dgram.createSocket({ type, ipv6Only: type === "udp6" });
      s.on("message", (msg, rinfo) => this.onMessage(s, msg, rinfo));
      s.on("error", (err) => this.opts.log?.("egress health socket error", err));
      const bound = await new Promise<boolean>((resolve) => {
        s.once("error", () => resolve(false));
        s.bind(port, only ?? (type === "udp4" ? "0.0.0.0" : "::"), () => resolve(true));
      });
      if (bound) {
        this.sockets.push(s);
        this.byFamily.set(type === "udp4" ? 4 : 6, s);
      } else {
        s.close(); // the port is taken, or no such family here
      }
    }
    if (this.sockets.length === 0) throw new Error(`egress health: cannot bind UDP port ${port}`);
    this.timer = setInterval(() => this.tick(), 25);
    this.timer.unref();
  }

  /** The port it answers on (tests bind port 0). */
  port(): number {
    return this.sockets[0]?.address().port ?? 0;
  }

  /** The gateways to probe now; a target kept keeps its history, a new one starts healthy. */
  setTargets(targets: ProbeTarget[]): void {
    const want = new Map<string, ProbeTarget>();
    for (const t of targets) {
      if (t.node === this.opts.nodeName) continue;
      const key = `${t.node} ${t.address}`;
      const have = want.get(key);
      // A gateway of several policies is probed at the fastest interval among them.
      want.set(
        key,
        have
          ? {
              ...t,
              intervalMs: Math.min(have.intervalMs, t.intervalMs),
              timeoutMs: Math.min(have.timeoutMs, t.timeoutMs),
            }
          : t,
      );
    }
    for (const key of [...this.targets.keys()]) if (!want.has(key)) this.targets.delete(key);
    const now = this.now();
    for (const [key, t] of want) {
      const s = this.targets.get(key);
      if (s) Object.assign(s, t);
      else this.targets.set(key, { ...t, since: now, lastSentAt: 0, seq: 0, down: new Set() });
    }
    this.tick();
  }

  /**
   * The health of gateway `node` (at `address`) for `policy`. A gateway never probed yet (just
   * added) is given the benefit of the doubt for one timeout: the control plane's intent holds
   * until a probe says otherwise.
   */
  health(node: string, address: string, policy: string): GatewayHealth {
    const s = this.targets.get(`${node} ${address}`);
    if (!s) return { healthy: true };
    const lastAckAt = s.lastAckAt;
    if (this.now() - (lastAckAt ?? s.since) > s.timeoutMs)
      return { healthy: false, lastAckAt, reason: "timeout" };
    if (s.failedAt !== undefined) return { healthy: false, lastAckAt, reason: "recovering" };
    if (s.down.has(policy)) return { healthy: false, lastAckAt, reason: "cannot serve" };
    return { healthy: true, lastAckAt };
  }

  /** When the gateway was last taken for failed (timeout), if it is failed or recovering now. */
  failedAt(node: string, address: string): number | undefined {
    return this.targets.get(`${node} ${address}`)?.failedAt;
  }

  private tick(): void {
    const now = this.now();
    let changed = false;
    for (const s of this.targets.values()) {
      if (now - s.lastSentAt >= s.intervalMs) {
        s.lastSentAt = now;
        s.seq = this.seq++ >>> 0;
        this.send(s.address, { m: MAGIC, t: "probe", seq: s.seq, from: this.opts.nodeName });
      }
      const silentFor = now - (s.lastAckAt ?? s.since);
      if (s.failedAt === undefined && silentFor > s.timeoutMs) {
        s.failedAt = now;
        s.answeringSince = undefined;
      } else if (s.failedAt !== undefined && silentFor > s.timeoutMs) {
        s.answeringSince = undefined;
      } else if (
        s.failedAt !== undefined &&
        s.answeringSince !== undefined &&
        now - s.answeringSince >= s.timeoutMs
      ) {
        s.failedAt = undefined;
        s.answeringSince = undefined;
      }
      const summary = `${s.failedAt === undefined ? "up" : s.answeringSince === undefined ? "down" : "recovering"} ${[...s.down].sort().join(",")}`;
      const key = `${s.node} ${s.address}`;
      if (this.last.get(key) !== summary) {
        this.last.set(key, summary);
        changed = true;
      }
    }
    for (const key of [...this.last.keys()]) if (!this.targets.has(key)) this.last.delete(key);
    if (changed) this.opts.onChange();
  }

  private send(address: string, msg: object): void {
    const s = this.byFamily.get(isIPv4(address) ? 4 : 6);
    if (!s) return;
    // Every agent answers on the same port (its own, the one this one is bound to).
    s.send(Buffer.from(JSON.stringify(msg)), this.port(), address, () => undefined);
  }

  private onMessage(sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const probe = decode(probeSchema, msg);
    if (probe) {
      const down = this.opts.cannotServe().slice(0, 64);
      const ack = { m: MAGIC, t: "ack", seq: probe.seq, node: this.opts.nodeName, down };
      sock.send(Buffer.from(JSON.stringify(ack)), rinfo.port, rinfo.address, () => undefined);
      return;
    }
    const ack = decode(ackSchema, msg);
    if (!ack) return;
    const address = rinfo.address.replace(/^::ffff:/, "");
    const s = this.targets.get(`${ack.node} ${address}`);
    // Only the node we probed, at the address we probed, counts (an address reused by another node does not).
    if (!s) return;
    const now = this.now();
    if (s.failedAt !== undefined && s.answeringSince === undefined) s.answeringSince = now;
    s.lastAckAt = now;
    s.down = new Set(ack.down);
    this.tick();
  }

  close(): void {
    clearInterval(this.timer);
    for (const s of this.sockets.splice(0)) s.close();
    this.byFamily.clear();
  }
}

/**
 * Whether this node's interfaces are up, as netlink says, refreshed on every link event (`ip
 * monitor link`), so that an uplink going down is in this node's answers at once.
 */
export class LinkWatch {
  private up = new Map<string, boolean>();
  private monitor?: ChildProcess;
  private refreshing = false;
  private again = false;

  constructor(private readonly onChange: () => void) {}

  start(): void {
    this.monitor = spawn("ip", ["-o", "monitor", "link"], { stdio: ["ignore", "pipe", "ignore"] });
    this.monitor.stdout?.on("data", () => void this.refresh());
    this.monitor.on("error", () => undefined);
    void this.refresh();
  }

  /** Up unless netlink said otherwise (unknown interfaces count as up: the plan names them). */
  isUp(ifname: string): boolean {
    return this.up.get(ifname) ?? true;
  }

  private async refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return;
    }
    this.refreshing = true;
    try {
      do {
        this.again = false;
        // A failed or unreadable listing counts as no links up, as before the first listing.
        const links = await ipJson<Pick<IpLink, "ifname" | "flags" | "operstate">>(["link", "show"]).catch(
          () => [],
        );
        const next = new Map(
          links.map((l) => [
            l.ifname,
            (l.flags ?? []).includes("UP") && l.operstate !== "DOWN" && l.operstate !== "LOWERLAYERDOWN",
          ]),
        );
        const changed = [...next].some(([k, v]) => this.up.get(k) !== v) || next.size !== this.up.size;
        this.up = next;
        if (changed) this.onChange();
      } while (this.again);
    } finally {
      this.refreshing = false;
    }
  }

  close(): void {
    this.monitor?.kill();
    this.monitor = undefined;
  }
}
