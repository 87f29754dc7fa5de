#!/usr/bin/env node
// Launcher: runs src/cni/main.ts through tsx (see meridian-agent.mjs for why in-process).
// Node resolves "tsx/esm/api" from this file's directory upwards: the repository's node_modules.
import { register } from "tsx/esm/api";

register();
await import(new URL("../src/cni/main.ts", import.meta.url).href);
