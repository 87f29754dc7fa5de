// Runs the real `npm start` for tests, the way a person does: in its own process group (a
// terminal's), with a state folder, ports and a lab prefix of the test's own, so it never touches
// a developer's .meridian/, port 3000 or demo lab.
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { repoRoot } from "../src/console";

export interface NpmStart {
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr, interleaved as they came). */
  output(): string;
  /** Resolves with the first match of `re` in the output; rejects if it exits or times out first. */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** A signal to its whole process group, as Ctrl-C in a terminal sends SIGINT. */
  signalGroup(signal: NodeJS.Signals): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  stateDir: string;
  port: number;
  embeddedDbPort: number;
  labPrefix: string;
  args?: string[];
  env?: Record<string, string>;
}

export function npmStart(opts: StartOptions): NpmStart {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MERIDIAN_START_STATE_DIR: opts.stateDir,
    MERIDIAN_EMBEDDED_DB_PORT: String(opts.embeddedDbPort),
    MERIDIAN_LAB_PREFIX: opts.labPrefix,
    ...opts.env,
  };
  // The test runner's own database settings are not the user's: npm start picks its database.
  if (!opts.env?.DATABASE_URL) delete env.DATABASE_URL;
  const child = spawn(
    "npm",
    ["start", "--", "--skip-setup", "--port", String(opts.port), ...(opts.args ?? [])],
    {
      cwd: repoRoot,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let text = "";
  const listeners = new Set<() => void>();
  for (const s of [child.stdout!, child.stderr!]) {
    s.on("data", (d) => {
      text += d;
      for (const l of listeners) l();
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => text,
    exited,
    signalGroup: (signal) => process.kill(-child.pid!, signal),
    waitFor: (re, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = text.match(re);
          if (!m) return;
          done();
          resolve(m);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`npm start did not print ${re} within ${timeoutMs} ms; it printed:\n${text}`));
        }, timeoutMs);
        const onExit = () => {
          done();
          const m = text.match(re);
          if (m) resolve(m);
          else reject(new Error(`npm start exited before printing ${re}; it printed:\n${text}`));
        };
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off("exit", onExit);
        };
        listeners.add(check);
        child.once("exit", onExit);
        check();
      }),
  };
}

/**
 * Every process on the machine that npm start with this state folder started, however far down
 * (the console, the embedded database, the lab's agents, relays and FRR): they all inherit its
 * environment, which names the folder.
 */
export function processesOf(stateDir: string): { pid: number; cmd: string }[] {
  const marker = `MERIDIAN_START_STATE_DIR=${stateDir}`;
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/environ`, "latin1").split("\0").includes(marker)) continue;
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "latin1").split("\0").join(" ").trim();
      found.push({ pid: Number(entry), cmd });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** Waits until `check` returns nothing left, or the deadline passes; returns what was left. */
export async function leftAfter<T>(check: () => T[], timeoutMs: number): Promise<{ left: T[]; ms: number }> {
  const start = Date.now();
  let left = check();
  while (left.length && Date.now() - start < timeoutMs) {
    await new Promise((r) => setTimeout(r, 100));
    left = check();
  }
  return { left, ms: Date.now() - start };
}

/** The credentials npm start printed for this run. */
export function printedCredentials(output: string): { email: string; password: string } | null {
  const m = output.match(/meridian: sign in as (\S+) with password (\S+) /);
  return m ? { email: m[1]!, password: m[2]! } : null;
}
