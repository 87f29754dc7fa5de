// Runs the production build of the console against a throw-away database for browser tests.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import net from "node:net";
import path from "node:path";

export const repoRoot = path.resolve(import.meta.dirname, "..", "..");
const webDir = path.join(repoRoot, "apps", "web");

/** Builds the console through turbo, which skips the build when its sources have not changed. */
export function buildConsole(): void {
  const r = spawnSync(
    "npx",
    ["turbo", "run", "build", "--filter=@meridian/web", "--output-logs=errors-only"],
    {
      cwd: repoRoot,
      stdio: "inherit",
    },
  );
  if (r.status !== 0) throw new Error("the console did not build");
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export interface RunningConsole {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startConsole(
  databaseUrl: string,
  extraEnv: Record<string, string> = {},
  opts: { port?: number } = {},
): Promise<RunningConsole> {
  // A fixed port lets a test stop the server and start it again where browsers expect it.
  const port = opts.port ?? (await freePort());
  const child: ChildProcess = spawn(
    process.execPath,
    [
      path.join(repoRoot, "node_modules", "next", "dist", "bin", "next"),
      "start",
      "-p",
      String(port),
      "-H",
      "127.0.0.1",
    ],
    {
      cwd: webDir,
      env: { ...process.env, ...extraEnv, DATABASE_URL: databaseUrl, NODE_ENV: "production" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout?.on("data", (d) => {
    output += d;
  });
  child.stderr?.on("data", (d) => {
    output += d;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the console exited: ${output}`);
    try {
      const r = await fetch(`${url}/login`);
      if (r.status < 500) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    port,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      // next start waits for open connections on SIGTERM, and an SSE stream never ends by
      // itself: give it a moment, then stop it the hard way (as a crash or a node restart would).
      const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
