// `meridian-agent dns cache` (learned names and addresses) and `meridian-agent dns log [--follow]`
// (the proxy's queries: the last 1,000, or each one as it is answered), filtered as the console's
// DNS page filters (`dnsQueryFilterSchema`: verdict, part of the name, part of the endpoint).
import { type DnsQueryFilter, dnsQueryFilterSchema } from "@meridian/model";
import { type FeatureCli, UsageError } from "../../cli/command.js";
import { table } from "../../cli/table.js";
import type { CacheView } from "./cache.js";
import { rcodeName } from "./message.js";
import type { DnsQueryEvent } from "./proxy.js";
import type { ProxyState } from "./supervisor.js";

const LOG_HEADERS = [
  "TIME",
  "ENDPOINT",
  "NAME",
  "TYPE",
  "VERDICT",
  "RCODE",
  "ANSWERS (TTL)",
  "RULE / REASON",
];
/** Streamed rows cannot be measured first: fixed widths, the last column free. */
const LOG_WIDTHS = [24, 24, 32, 5, 9, 8, 28];

/** One query as table cells: answers with their TTLs, the rule that allowed it or why not. */
export function logCells(e: DnsQueryEvent): string[] {
  const shown = e.answers ?? [];
  const more = (e.answerCount ?? shown.length) - shown.length;
  const answers = [
    ...shown.map((a) => `${a.address} (${a.ttl}s)`),
    ...(more > 0 ? [`+${more} more`] : []),
  ].join(", ");
  return [
    e.time,
    e.endpoint ?? e.client,
    e.name ?? "-",
    e.type ?? "-",
    e.verdict,
    e.rcode === undefined ? "-" : rcodeName(e.rcode),
    answers || "-",
    e.rule ?? e.reason ?? "",
  ];
}

export function logRow(cells: string[]): string {
  return cells
    .map((c, i) => (i < LOG_WIDTHS.length ? c.padEnd(LOG_WIDTHS[i]!) : c))
    .join(" ")
    .trimEnd();
}

/** The filter from the command line (`--pod` is the console's endpoint filter), or a usage error naming the field. */
export function logFilter(values: Record<string, unknown>): DnsQueryFilter {
  const given = {
    ...(typeof values.verdict === "string" ? { verdict: values.verdict } : {}),
    ...(typeof values.name === "string" ? { name: values.name } : {}),
    ...(typeof values.pod === "string" ? { endpoint: values.pod } : {}),
  };
  const r = dnsQueryFilterSchema.safeParse(given);
  if (!r.success) {
    const i = r.error.issues[0]!;
    const flag = i.path[0] === "endpoint" ? "pod" : String(i.path[0]);
    throw new UsageError(`--${flag}: ${i.message}`);
  }
  return r.data;
}

/** The local API's query string for a filter (GET /v1/dns/log). */
export function logQuery(filter: DnsQueryFilter, follow: boolean): string {
  const q = new URLSearchParams();
  if (follow) q.set("follow", "1");
  for (const [k, v] of Object.entries(filter)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

function cacheRows(entries: CacheView[]): string[][] {
  return entries.map((e) => [
    e.endpoint,
    e.address,
    String(e.identity),
    e.names.join(","),
    e.heldByConnection ? "held (open connection)" : `${e.expiresInSeconds}s`,
  ]);
}

export const dnsCli: FeatureCli = {
  statusRows: (s) => {
    const p = (s as { dnsProxy?: ProxyState }).dnsProxy;
    if (!p) return [];
    return [
      [
        "dns proxy",
        p.state === "up"
          ? `up, pid ${p.pid}, since ${p.since}${p.adopted ? " (adopted)" : ""}`
          : `down (last pid ${p.pid ?? "none"})`,
      ],
    ];
  },
  commands: [
    {
      name: "dns",
      usage: [
        "  dns cache [--json]                     learned names and addresses, per endpoint",
        "  dns log [--follow] [--json]            DNS queries: endpoint, name, verdict, answers and TTLs, rule",
        "      --pod P --name N --verdict V       only queries whose endpoint contains P, whose name contains N",
        "                                         (any case), with verdict allowed|denied|malformed|error",
      ].join("\n"),
      options: {
        follow: { type: "boolean" },
        pod: { type: "string" },
        name: { type: "string" },
        verdict: { type: "string" },
      },
      async run({ positionals, values, json, get, stream, out }) {
        const sub = positionals[0];
        if (sub === "cache") {
          const r = (await get("/v1/dns/cache")) as { entries: CacheView[] };
          if (json) out(JSON.stringify(r.entries, null, 2));
          else out(table(["ENDPOINT", "ADDRESS", "IDENTITY", "NAMES", "EXPIRES"], cacheRows(r.entries)));
          return 0;
        }
        if (sub === "log") {
          const filter = logFilter(values);
          if (values.follow !== true) {
            const r = (await get(`/v1/dns/log${logQuery(filter, false)}`)) as { events: DnsQueryEvent[] };
            if (json) out(JSON.stringify(r.events, null, 2));
            else out(table(LOG_HEADERS, r.events.map(logCells)));
            return 0;
          }
          const ac = new AbortController();
          process.once("SIGINT", () => ac.abort());
          await get("/v1/status"); // fails with a clear message before a header is printed
          if (!json) out(logRow(LOG_HEADERS));
          await stream(
            `/v1/dns/log${logQuery(filter, true)}`,
            (e) => out(json ? JSON.stringify(e) : logRow(logCells(e as DnsQueryEvent))),
            ac.signal,
          );
          return 0;
        }
        throw new UsageError(
          "usage: meridian-agent dns cache|log [--follow] [--pod P --name N --verdict V] [--json]",
        );
      },
    },
  ],
};
