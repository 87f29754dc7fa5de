#!/usr/bin/env node
// `npm run lab -- up|down|status [--prefix P]`: runs lab/cli.ts through tsx (registered in
// this process, resolved from the repository's node_modules).
import { register } from "tsx/esm/api";

register();
const { main } = await import(new URL("./cli.ts", import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
