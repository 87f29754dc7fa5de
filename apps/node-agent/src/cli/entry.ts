// Entry point of the meridian-agent binary (see bin/meridian-agent.mjs).
import { main } from "./main.js";

process.exitCode = await main(process.argv.slice(2));
