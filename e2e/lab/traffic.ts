// Real traffic between lab namespaces, with Node itself as server and client (the lab
// machines have no ping or nc). Every wait is bounded.
import { type ChildProcess, execFile, spawn } from "node:child_process";

const SERVER = `
const net = require("node:net");
const [port, tag] = process.argv.slice(1);
const s = net.createServer((c) => c.end(tag + " " + c.remoteAddress.replace(/^::ffff:/, "") + "\\n"));
s.listen({ port: Number(port), host: "::", ipv6Only: false }, () => console.log("listening"));
`;

const CLIENT = `
const net = require("node:net");
const [host, port, timeout] = process.argv.slice(1);
const c = net.connect({ host, port: Number(port) });
let data = "";
const t = setTimeout(() => { console.log("ERR timeout"); process.exit(2); }, Number(timeout));
c.on("data", (d) => { data += d; });
c.on("end", () => { clearTimeout(t); console.log("OK " + data.trim()); process.exit(0); });
c.on("error", (e) => { clearTimeout(t); console.log("ERR " + e.code); process.exit(1); });
`;

export interface TcpServer {
  stop(): Promise<void>;
}

/** A TCP server in `netns` answering "<tag> <client address>" and closing. */
export async function startTcpServer(netns: string, port: number, tag: string): Promise<TcpServer> {
  const child: ChildProcess = spawn(
    "ip",
    ["netns", "exec", netns, process.execPath, "-e", SERVER, String(port), tag],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`server in ${netns} did not start: ${out}`)), 10_000);
    const onData = (d: Buffer) => {
      out += d;
      if (out.includes("listening")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`server in ${netns} exited: ${out}`));
    });
  });
  return {
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

// Like SERVER, and prints every accepted connection's source address as it arrives ("from <addr>"),
// even one whose client gives up before the answer: what a firewall in front of it would see.
const RECORDING_SERVER = `
const net = require("node:net");
const [port, tag] = process.argv.slice(1);
const s = net.createServer((c) => {
  const from = c.remoteAddress.replace(/^::ffff:/, "");
  console.log("from " + from);
  c.on("error", () => {});
  c.end(tag + " " + from + "\\n");
});
s.listen({ port: Number(port), host: "::", ipv6Only: false }, () => console.log("listening"));
`;

export interface RecordingServer extends TcpServer {
  /** Source addresses of every connection accepted so far, in order. */
  sources(): string[];
}

/** A TCP server in `netns` answering "<tag> <client address>" that records every client address. */
export async function startRecordingServer(
  netns: string,
  port: number,
  tag: string,
): Promise<RecordingServer> {
  const child = spawn(
    "ip",
    ["netns", "exec", netns, process.execPath, "-e", RECORDING_SERVER, String(port), tag],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d;
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  await waitForLine(child, "listening", `recording server in ${netns}`);
  return {
    sources: () =>
      out
        .split("\n")
        .filter((l) => l.startsWith("from "))
        .map((l) => l.slice(5)),
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

export interface TcpResult {
  ok: boolean;
  /** "<tag> <address the server saw>" on success; the error code otherwise. */
  reply: string;
}

export function tcpConnect(netns: string, host: string, port: number, timeoutMs = 2_000): Promise<TcpResult> {
  return new Promise((resolve, reject) => {
    execFile(
      "ip",
      ["netns", "exec", netns, process.execPath, "-e", CLIENT, host, String(port), String(timeoutMs)],
      { timeout: timeoutMs + 10_000 },
      (err, stdout) => {
        const line = stdout.trim();
        if (line.startsWith("OK ")) resolve({ ok: true, reply: line.slice(3) });
        else if (line.startsWith("ERR ")) resolve({ ok: false, reply: line.slice(4) });
        else reject(err ?? new Error(`client in ${netns} printed nothing`));
      },
    );
  });
}

const ECHO_SERVER = `
const net = require("node:net");
const s = net.createServer((c) => { c.on("error", () => {}); c.pipe(c); });
s.listen({ port: Number(process.argv[1]), host: "::", ipv6Only: false }, () => console.log("listening"));
`;

// Sends a numbered line every 10 ms and checks the echo; on stdin EOF, waits for the
// echoes in flight and prints {sent, received, outOfOrder, error}.
const STREAM_CLIENT = `
const net = require("node:net");
const [host, port] = process.argv.slice(1);
let sent = 0, received = 0, outOfOrder = 0, error = null, buf = "";
const c = net.connect({ host, port: Number(port) });
c.setNoDelay(true);
c.on("error", (e) => { error = e.code || e.message; });
c.on("data", (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf("\\n")) >= 0) {
    const n = Number(buf.slice(0, i));
    buf = buf.slice(i + 1);
    if (n !== received) outOfOrder++;
    received++;
  }
});
c.on("connect", () => console.log("connected"));
const timer = setInterval(() => { if (!error) c.write(String(sent++) + "\\n"); }, 10);
process.stdin.resume();
process.stdin.on("end", () => {
  clearInterval(timer);
  const until = Date.now() + 2000;
  const done = () => {
    if (received >= sent || error || Date.now() > until) {
      console.log(JSON.stringify({ sent, received, outOfOrder, error }));
      process.exit(0);
    }
    setTimeout(done, 20);
  };
  done();
});
`;

export async function startEchoServer(netns: string, port: number): Promise<TcpServer> {
  const child = spawn("ip", ["netns", "exec", netns, process.execPath, "-e", ECHO_SERVER, String(port)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  await waitForLine(child, "listening", `echo server in ${netns}`);
  return {
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

export interface StreamResult {
  sent: number;
  received: number;
  outOfOrder: number;
  error: string | null;
}

/** A long-lived TCP stream from `netns` to an echo server; stop() reports what got through. */
export async function startStream(
  netns: string,
  host: string,
  port: number,
): Promise<{ stop(): Promise<StreamResult> }> {
  const child = spawn(
    "ip",
    ["netns", "exec", netns, process.execPath, "-e", STREAM_CLIENT, host, String(port)],
    {
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d;
  });
  await waitForLine(child, "connected", `stream from ${netns}`);
  return {
    stop: async () => {
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
      const line = out.trim().split("\n").pop() ?? "";
      return JSON.parse(line) as StreamResult;
    },
  };
}

function waitForLine(child: ChildProcess, text: string, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${what}: no "${text}" within 10 s: ${out}`)), 10_000);
    const onData = (d: Buffer) => {
      out += d;
      if (out.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`${what} exited: ${out}`));
    });
  });
}

// Opens a new connection every `every` ms (not waiting for the one before), each given `timeout`
// ms; prints one JSON line per attempt: start and end (ms since the epoch), ok, the reply.
const CONNECT_LOOP = `
const net = require("node:net");
const [host, port, every, timeout] = process.argv.slice(1).map((x, i) => (i === 0 ? x : Number(x)));
let stopping = false, open = 0;
const attempt = () => {
  const start = Date.now();
  open++;
  let data = "", done = false;
  const c = net.connect({ host, port });
  const finish = (ok, reply) => {
    if (done) return;
    done = true;
    open--;
    clearTimeout(t);
    c.destroy();
    console.log(JSON.stringify({ start, end: Date.now(), ok, reply }));
  };
  const t = setTimeout(() => finish(false, "timeout"), timeout);
  c.on("data", (d) => { data += d; });
  c.on("end", () => finish(true, data.trim()));
  c.on("error", (e) => finish(false, e.code || e.message));
};
const timer = setInterval(() => { if (!stopping) attempt(); }, every);
console.log("started");
process.stdin.resume();
process.stdin.on("end", () => {
  stopping = true;
  clearInterval(timer);
  const wait = () => (open === 0 ? process.exit(0) : setTimeout(wait, 20));
  wait();
});
`;

export interface ConnectAttempt {
  start: number;
  end: number;
  ok: boolean;
  reply: string;
}

/** New TCP connections from `netns` every `everyMs`; `attempts()` so far, `stop()` waits for those open. */
export async function startConnectLoop(
  netns: string,
  host: string,
  port: number,
  everyMs = 50,
  timeoutMs = 500,
): Promise<{ attempts(): ConnectAttempt[]; stop(): Promise<ConnectAttempt[]> }> {
  const child = spawn(
    "ip",
    [
      "netns",
      "exec",
      netns,
      process.execPath,
      "-e",
      CONNECT_LOOP,
      host,
      String(port),
      String(everyMs),
      String(timeoutMs),
    ],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d;
  });
  const attempts = () =>
    out
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as ConnectAttempt);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  await waitForLine(child, "started", `connect loop from ${netns}`);
  return {
    attempts,
    // Idempotent: a second stop (a test's finally) finds the loop gone and returns at once.
    stop: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs + 5_000);
      await exited;
      clearTimeout(timer);
      return attempts();
    },
  };
}
