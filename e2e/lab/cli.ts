// The lab's command line. `up` builds the demo lab and leaves it running (agents detached)
// for a demo; `down` removes it (or any lab, by prefix); `status` shows what is up.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import {
  buildLab,
  DEFAULT_PREFIX,
  describe,
  LabAlreadyUpError,
  labDir,
  labNamespaces,
  run,
  teardownLab,
} from "./builder";
import { demoTopology } from "./topology";

const USAGE = `usage: npm run lab -- <up|down|status> [--prefix ${DEFAULT_PREFIX}]
  up       build the demo lab (2 nodes, 4 pods, router, DNS and external namespaces)
           --api URL --api-token T: agents join that control plane (T: an admin API
           token, used to create one join token per node)
  down     kill the lab's agents and delete its namespaces
  status   show the lab's namespaces, nodes and pods
`;

export async function main(argv: string[]): Promise<number> {
  const options = {
    prefix: { type: "string" },
    json: { type: "boolean" },
    api: { type: "string" },
    "api-token": { type: "string" },
  } as const;
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const [command] = parsed.positionals;
  const prefix = parsed.values.prefix ?? DEFAULT_PREFIX;
  if (!prefix.startsWith("mrdlab")) {
    process.stderr.write(`--prefix must start with "mrdlab"\n`);
    return 2;
  }
  if (process.getuid?.() !== 0 && command !== undefined) {
    process.stderr.write("the lab needs root (network namespaces, veths)\n");
    return 1;
  }
  switch (command) {
    case "up": {
      // Ctrl-C while building: the builder's own failure path cannot run, so clean up here.
      const onSigint = () => {
        process.stderr.write("\ninterrupted: tearing the lab down\n");
        void teardownLab(prefix).finally(() => process.exit(130));
      };
      process.once("SIGINT", onSigint);
      try {
        const { api, "api-token": apiToken } = parsed.values;
        if (api && !apiToken)
          throw new Error("--api needs --api-token (an admin API token to create join tokens)");
        await labUp({ prefix, controlPlane: api ? { url: api, token: apiToken! } : undefined });
        return 0;
      } catch (err) {
        process.stderr.write(`lab up failed: ${(err as Error).message}\n`);
        return err instanceof LabAlreadyUpError ? 3 : 1;
      } finally {
        process.off("SIGINT", onSigint);
      }
    }
    case "down": {
      const removed = await teardownLab(prefix);
      process.stdout.write(
        removed.length
          ? `removed ${removed.length} namespaces: ${removed.join(" ")}\n`
          : `no lab with prefix ${prefix} is up\n`,
      );
      return 0;
    }
    case "status": {
      const namespaces = await labNamespaces(prefix);
      const file = path.join(labDir(prefix), "lab.json");
      const d = existsSync(file)
        ? (JSON.parse(readFileSync(file, "utf8")) as ReturnType<typeof describe>)
        : undefined;
      if (parsed.values.json) {
        process.stdout.write(`${JSON.stringify({ namespaces, lab: d ?? null }, null, 2)}\n`);
        return 0;
      }
      if (namespaces.length === 0) {
        process.stdout.write(`no lab with prefix ${prefix} is up\n`);
        return 0;
      }
      process.stdout.write(`${namespaces.length} namespaces: ${namespaces.join(" ")}\n\n`);
      if (d) {
        for (const n of d.nodes) {
          const pids = (await run("ip", ["netns", "pids", n.netns]).catch(() => "")).trim();
          process.stdout.write(
            `node ${n.name}  ${n.ipv4}  ${n.ipv6}  podCIDRs ${n.podCIDRs.join(",")}  processes ${pids ? pids.split(/\s+/).join(",") : "NONE: agent not running"}\n`,
          );
        }
        process.stdout.write("\n");
        printPods(d.pods);
      }
      return 0;
    }
    default:
      process.stdout.write(USAGE);
      return command ? 2 : 0;
  }
}

/**
 * `lab up`: builds the demo lab (agents detached, so they outlive this process), prints its pods
 * and how to remove it. With a control plane, agents join it with join tokens created through
 * `token` (an admin's). Throws an error that says what failed; a failed build is torn down.
 */
export async function labUp(opts: {
  prefix: string;
  controlPlane?: { url: string; token: string };
}): Promise<ReturnType<typeof describe>> {
  const started = Date.now();
  const controlPlane = opts.controlPlane
    ? await controlPlaneFor(opts.controlPlane.url, opts.controlPlane.token)
    : undefined;
  const lab = await buildLab(demoTopology, {
    prefix: opts.prefix,
    detachAgents: true,
    controlPlane,
    log: (l) => process.stdout.write(`  ${l}\n`),
  });
  const d = describe(lab);
  process.stdout.write(`\nlab up in ${((Date.now() - started) / 1000).toFixed(1)} s\n\n`);
  printPods(d.pods);
  const n1 = d.nodes[0]!;
  process.stdout.write(
    `\ntry:   ip netns exec ${n1.netns} node apps/node-agent/bin/meridian-agent.mjs endpoints --socket ${n1.socket}\n` +
      `remove: ${labDownCommand(opts.prefix)}\n`,
  );
  return d;
}

/** The command that removes the lab with this prefix. */
export function labDownCommand(prefix: string): string {
  return `npm run lab -- down${prefix === DEFAULT_PREFIX ? "" : ` --prefix ${prefix}`}`;
}

async function controlPlaneFor(url: string, token: string) {
  const { createMeridianClient } = await import("@meridian/api/client");
  const client = createMeridianClient({ url, token });
  return {
    url,
    joinToken: async (node: string) => {
      try {
        // The lab builds this node anew, so its previous agent is gone: re-provision it as an admin
        // would (revoke the old credential; a joined node cannot be taken over by a join token).
        const known = (await client.nodes.list.query({ search: node })).items.find((n) => n.name === node);
        if (known?.joinState === "joined") await client.nodes.revokeCredential.mutate({ id: known.id });
        return (
          await client.joinTokens.create.mutate({ nodeName: node, description: "lab", ttlSeconds: 3600 })
        ).secret;
      } catch (err) {
        throw new Error(`the console at ${url} refused a join token for ${node}: ${(err as Error).message}`);
      }
    },
  };
}

function printPods(
  pods: {
    name: string;
    node: string;
    netns: string;
    ipv4?: string;
    ipv6?: string;
    labels?: Record<string, string>;
  }[],
) {
  const rows = pods.map((p) => [
    p.name,
    p.node,
    p.ipv4 ?? "-",
    p.ipv6 ?? "-",
    Object.entries(p.labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(",") || "-",
    p.netns,
  ]);
  const head = ["POD", "NODE", "IPV4", "IPV6", "LABELS", "NETNS"];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows])
    process.stdout.write(
      `${r
        .map((c, i) => c.padEnd(w[i]!))
        .join("  ")
        .trimEnd()}\n`,
    );
}
