// One `meridian-agent <command>` that asks the running agent over its unix socket. The core's
// (status, endpoints) live in cli/main.ts; each subsystem brings its own (src/features/*/cli.ts)
// and cli/main.ts dispatches by the first word.
import type { ParseArgsConfig } from "node:util";
import type { AgentStatusView } from "../agent/protocol.js";

export class UsageError extends Error {}

export interface CliCall {
  positionals: string[];
  /** Parsed options: the common ones (`socket`, `json`) and the command's own. */
  values: Record<string, unknown>;
  json: boolean;
  /** GET from the agent's local API; a non-200 answer throws with the agent's message. */
  get(path: string): Promise<unknown>;
  /** POST to the agent's local API; an answer other than 2xx throws with the agent's message. */
  post(path: string): Promise<unknown>;
  /** Newline-delimited JSON from the agent until it ends the response or `signal` aborts. */
  stream(path: string, onItem: (item: unknown) => void, signal: AbortSignal): Promise<void>;
  out(line: string): void;
}

export interface CliCommand {
  /** The first word: `meridian-agent <name> …`. */
  name: string;
  /** Its lines in the usage text, indented as the others. */
  usage: string;
  /** Options besides the common --socket and --json. */
  options?: NonNullable<ParseArgsConfig["options"]>;
  run(call: CliCall): Promise<number>;
}

/** A subsystem's part of the command line. */
export interface FeatureCli {
  commands: CliCommand[];
  /** Its rows in `meridian-agent status` (the fields it adds to GET /v1/status). */
  statusRows?(status: AgentStatusView): [string, string][];
}
