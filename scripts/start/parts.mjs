// The processes `npm start` runs ("parts": set-up, database, migrations, console, demo lab…).
//
// Each part runs in its own process group, so a Ctrl-C (SIGINT to the terminal's group) reaches
// only npm start, which then stops the parts in order (lab, console, database), and a stop can
// end a part's whole tree: SIGTERM to the group, then SIGKILL to whatever is left after a grace
// period. Each part's output goes to its own log file; its stdin is a pipe npm start holds, so a
// part that watches it stops even when npm start is killed outright.
//
// The set-up is the exception (`foreground`): it stays in the terminal's group, so a Ctrl-C reaches
// apt-get and npm ci as usual, and a stop sends it SIGINT and gives it longer, since killing
// dpkg half-way leaves the machine's packages in a state that needs repair.
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";

const TAIL_CHARS = 64 * 1024;

/** Parts still running, so a stop reaches every one. */
export const running = new Set();

/**
 * @typedef {object} Part
 * @property {string} name
 * @property {boolean} foreground  in npm start's own process group (the set-up)
 * @property {string} logFile
 * @property {import("node:child_process").ChildProcess} child
 * @property {{ stdout: string, stderr: string }} output  the last TAIL_CHARS of each stream
 * @property {Promise<{ code: number | null, signal: string | null, error?: Error }>} exited
 */

/**
 * @param {string} name
 * @param {string[]} argv
 * @param {{ cwd: string, env: NodeJS.ProcessEnv, logFile: string, echo?: boolean, foreground?: boolean, onStdout?: (text: string) => void }} opts
 * @returns {Part}
 */
export function spawnPart(name, argv, opts) {
  const log = createWriteStream(opts.logFile, { flags: "a" });
  const child = spawn(argv[0], argv.slice(1), {
    cwd: opts.cwd,
    env: opts.env,
    detached: !opts.foreground,
    stdio: ["pipe", "pipe", "pipe"],
  });
  // Nothing is ever written to a part's stdin; its end is the signal that npm start is gone.
  child.stdin.on("error", () => {});
  const output = { stdout: "", stderr: "" };
  for (const stream of /** @type {const} */ (["stdout", "stderr"])) {
    child[stream].on("data", (d) => {
      log.write(d);
      if (opts.echo) process[stream].write(d);
      output[stream] = (output[stream] + d).slice(-TAIL_CHARS);
      if (stream === "stdout") opts.onStdout?.(output.stdout);
    });
  }
  /** @type {Part} */
  const part = {
    name,
    foreground: opts.foreground === true,
    logFile: opts.logFile,
    child,
    output,
    exited: new Promise((resolve) => {
      let result;
      const done = () => {
        running.delete(part);
        log.end();
        resolve(result);
      };
      child.once("error", (error) => {
        result = { code: null, signal: null, error };
        done();
      });
      child.once("exit", (code, signal) => {
        result = { code, signal };
        // The output may still be in the pipes; a grandchild holding them must not keep us waiting.
        const timer = setTimeout(done, 500);
        child.once("close", () => {
          clearTimeout(timer);
          done();
        });
      });
    }),
  };
  running.add(part);
  return part;
}

/** Runs a part to its end. */
export async function runPart(name, argv, opts) {
  const part = spawnPart(name, argv, opts);
  return { ...(await part.exited), output: part.output, logFile: part.logFile };
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone already
  }
}

/** SIGTERM to the part's process group, SIGKILL to what is left of it after graceMs. */
export async function stopPart(part, { graceMs = 3_000 } = {}) {
  if (!part?.child.pid) return;
  const exitedNow = part.child.exitCode !== null || part.child.signalCode !== null;
  const signal = (sig) => (part.foreground ? part.child.kill(sig) : killGroup(part.child.pid, sig));
  if (!exitedNow) signal(part.foreground ? "SIGINT" : "SIGTERM");
  let timer;
  const grace = part.foreground ? Math.max(graceMs, 10_000) : graceMs;
  await Promise.race([part.exited, new Promise((r) => (timer = setTimeout(r, grace)))]);
  clearTimeout(timer);
  if (!part.foreground || part.child.exitCode === null) signal("SIGKILL");
  await part.exited;
}

/** Last resort at exit: SIGKILL to every part still running. */
export function killAll() {
  for (const part of running) {
    if (part.foreground) part.child.kill("SIGKILL");
    else if (part.child.pid) killGroup(part.child.pid, "SIGKILL");
  }
}
