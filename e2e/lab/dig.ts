// dig inside a lab namespace, parsed into what the tests check: the status, the server that
// answered and the addresses of the answer section. One try, bounded, never throws (a timeout
// is the status "no answer: …").
import { run } from "./builder";

export interface DigResult {
  status: string;
  /** As dig prints it: `10.99.0.53#53(10.99.0.53)`. */
  server: string;
  addresses: string[];
  /** TTLs of the answer section's A/AAAA records, in order. */
  ttls: number[];
}

export interface DigQuery {
  server: string;
  name: string;
  type?: "A" | "AAAA";
  tcp?: boolean;
}

export async function dig(netns: string, q: DigQuery): Promise<DigResult> {
  const type = q.type ?? "A";
  const out = await run("ip", [
    "netns",
    "exec",
    netns,
    "dig",
    `@${q.server}`,
    q.name,
    type,
    "+time=2",
    "+tries=1",
    ...(q.tcp ? ["+tcp"] : []),
  ]).catch((e: Error) => e.message);
  const answer = out.split(";; ANSWER SECTION:")[1]?.split("\n\n")[0] ?? "";
  const records = answer
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[3] === type);
  return {
    status: /status: (\w+)/.exec(out)?.[1] ?? `no answer: ${out}`,
    server: /SERVER: (\S+)/.exec(out)?.[1] ?? "",
    addresses: records.map((f) => f[4]!),
    ttls: records.map((f) => Number(f[1])),
  };
}
