// What the sync loop keeps on disk: the node credential (0600, it is a secret) and the last
// desired state, so a restarted agent enforces it before the control plane answers.
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { NodeDesiredState } from "./channel.js";

export interface StoredCredential {
  api: string;
  nodeName: string;
  credential: string;
  joinedAt: string;
}
export interface StoredDesiredState {
  revision: number;
  contentHash: string;
  state: NodeDesiredState;
  receivedAt: string;
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

async function writeJson(file: string, value: unknown, mode: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 1), { mode });
  await chmod(tmp, mode);
  await rename(tmp, file);
}

export class SyncStore {
  constructor(private readonly stateDir: string) {}
  private get credentialFile() {
    return path.join(this.stateDir, "credential.json");
  }
  private get desiredFile() {
    return path.join(this.stateDir, "desired-state.json");
  }
  /** Before joining: a join token is single-use, so the credential must have somewhere to go. */
  ensureDir = () => mkdir(this.stateDir, { recursive: true });
  loadCredential = () => readJson<StoredCredential>(this.credentialFile);
  saveCredential = (c: StoredCredential) => writeJson(this.credentialFile, c, 0o600);
  loadDesired = () => readJson<StoredDesiredState>(this.desiredFile);
  saveDesired = (d: StoredDesiredState) => writeJson(this.desiredFile, d, 0o644);
  /** A copy that failed its check is kept beside, for whoever looks into why, and not loaded again. */
  setAsideDesired = () => rename(this.desiredFile, `${this.desiredFile}.rejected`);
}
