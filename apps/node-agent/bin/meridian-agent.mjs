#!/usr/bin/env node
// Launcher: runs src/cli/entry.ts through tsx from the repository's node_modules, found
// relative to this file. tsx is registered in this process (rather than re-spawning
// `node --import tsx`) so the PID a supervisor sees is the agent's, signals reach it
// directly and the CNI plugin pays for one Node start-up, not two.
// Node resolves "tsx/esm/api" from this file's directory upwards: the repository's node_modules.
import { register } from "tsx/esm/api";

register();
await import(new URL("../src/cli/entry.ts", import.meta.url).href);
