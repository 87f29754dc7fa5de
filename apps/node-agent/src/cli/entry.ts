// Entry point of the meridian-agent binary (see bin/meridian-agent.mjs).

// `meridian-agent flows | head`: the reader went away. That is the end of the output, not an
// error: exit quietly (no stack trace), as other Unix tools do when their pipe closes.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

const argv = process.argv.slice(2);
if (argv[0] === "dns-proxy") {
  // The DNS proxy process (started by the agent): only its own modules, not the whole agent's —
  // main.ts and what it imports (tRPC, Kubernetes, every feature) take ~150 MiB more resident memory.
  const { runDnsProxyCommand } = await import("../features/dns/proxy-command.js");
  process.exitCode = await runDnsProxyCommand(argv.slice(1));
} else {
  const { main } = await import("./main.js");
  process.exitCode = await main(argv);
}

export {};
