// The demo lab as a part of `npm start`: built once the console is up, its agents joined to it,
// and removed again when npm start stops. Left running, its agents would keep calling a console
// that is gone, and after a start on another database they would hold node credentials that
// database never issued; rebuilding it takes well under a minute.
//
// `<state>/demo-lab.json` records which npm start built the lab, so a later one can tell a lab
// left behind by a killed npm start (removed and built again) from one that someone built with
// `npm run lab -- up` or that another checkout's npm start runs (left alone, and said so).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { runPart, spawnPart, stopPart } from "./parts.mjs";

export const DEFAULT_LAB_PREFIX = "mrdlab-";

export function labDownCommand(prefix) {
  return `npm run lab -- down${prefix === DEFAULT_LAB_PREFIX ? "" : ` --prefix ${prefix}`}`;
}

function labNamespaces(prefix) {
  try {
    return execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
      .split("\n")
      .map((l) => l.split(" ")[0])
      .filter((n) => n?.startsWith(prefix));
  } catch {
    return [];
  }
}

function isNpmStart(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("scripts/start.mjs");
  } catch {
    return false;
  }
}

/**
 * @param {{ root: string, stateDir: string, prefix: string, logFile: string, log: (m: string) => void }} ctx
 */
export function demoLab(ctx) {
  const recordFile = path.join(ctx.stateDir, "demo-lab.json");
  const readRecord = () => {
    try {
      return JSON.parse(readFileSync(recordFile, "utf8"));
    } catch {
      return null;
    }
  };
  let part = null;
  let ours = false;

  const down = async (env) => {
    const r = await runPart(
      "demo lab (down)",
      [process.execPath, path.join(ctx.root, "e2e", "lab", "cli.mjs"), "down", "--prefix", ctx.prefix],
      { cwd: ctx.root, env, logFile: ctx.logFile },
    );
    if (r.code !== 0) ctx.log(`the demo lab could not be removed: ${r.output.stderr.trim()}`);
  };

  return {
    /**
     * Whether a lab may be built now; says why not, and removes a lab left by a killed npm start.
     * @returns {Promise<boolean>}
     */
    async mayStart(env) {
      const namespaces = labNamespaces(ctx.prefix);
      const record = readRecord();
      if (namespaces.length === 0) {
        if (record) rmSync(recordFile, { force: true });
        return true;
      }
      if (record?.prefix === ctx.prefix && !isNpmStart(record.pid)) {
        ctx.log("removing the demo lab that an earlier npm start left running (it was not stopped)");
        await down(env);
        rmSync(recordFile, { force: true });
        return true;
      }
      if (record?.prefix === ctx.prefix) {
        ctx.log(`demo lab not started: the npm start in process ${record.pid} runs it`);
        return false;
      }
      ctx.log(
        `demo lab not started: a lab that this npm start did not build is up (${namespaces.length} namespaces named ${ctx.prefix}*), and its agents are not joined to this console; remove it with \`${labDownCommand(ctx.prefix)}\` and start again for one that is`,
      );
      return false;
    },

    /** Spawns scripts/demo-lab.ts; resolves with its outcome. */
    start(url, env) {
      writeFileSync(recordFile, `${JSON.stringify({ prefix: ctx.prefix, pid: process.pid })}\n`);
      ours = true;
      part = spawnPart(
        "demo lab",
        [
          process.execPath,
          "--import",
          "tsx",
          path.join(ctx.root, "scripts", "demo-lab.ts"),
          url,
          "--prefix",
          ctx.prefix,
        ],
        { cwd: ctx.root, env, logFile: ctx.logFile },
      );
      return part.exited.then(async (ended) => {
        if (ended.code !== 0 && labNamespaces(ctx.prefix).length === 0) {
          rmSync(recordFile, { force: true });
          ours = false;
        }
        return { ...ended, output: part.output };
      });
    },

    /** Stops the lab if this npm start built it: its builder first, then everything in its namespaces. */
    async stop(env) {
      if (!ours) return;
      await stopPart(part, { graceMs: 2_000 });
      if (labNamespaces(ctx.prefix).length) await down(env);
      if (existsSync(recordFile)) rmSync(recordFile, { force: true });
      ours = false;
    },
  };
}
