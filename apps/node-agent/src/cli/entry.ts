// Entry point of the meridian-agent binary (see bin/meridian-agent.mjs).
import { main } from "./main.js";

// `meridian-agent flows | head`: the reader went away. That is the end of the output, not an
// error: exit quietly (no stack trace), as other Unix tools do when their pipe closes.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

process.exitCode = await main(process.argv.slice(2));
