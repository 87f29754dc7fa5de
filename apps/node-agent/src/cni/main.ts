// Entry point of the meridian-cni binary (see bin/meridian-cni.mjs).
import { runPlugin } from "./plugin.js";

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return "";
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const outcome = await runPlugin({ env: process.env, stdin: await readStdin() });
process.stdout.write(outcome.stdout);
process.exitCode = outcome.exitCode;
