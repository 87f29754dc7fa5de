import { flattenFieldErrors, zodIssuesOf } from "@meridian/api";
import { DROP_REASON_WORDS } from "@meridian/model";
import { TRPCError } from "@trpc/server";
import Link from "next/link";
import { FlowWhy } from "@/components/flow-why";
import { PageHeader } from "@/components/page-header";
import { StatusBadge } from "@/components/status";
import {
  bytesLabel,
  endLabel,
  FLOW_PAGE_SIZE,
  FLOW_VERDICTS,
  flowFilters,
  flowsHref,
  flowVerdictTone,
  hasFilter,
  SINCE,
} from "@/lib/flows";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

/** The API's refusal of a filter (a namespace that is no name, …) as the sentence for the banner. */
function refusal(err: unknown): string {
  if (!(err instanceof TRPCError) || err.code !== "BAD_REQUEST") throw err;
  const fields = flattenFieldErrors({ issues: zodIssuesOf(err.cause) ?? [] });
  const named = Object.entries(fields).map(([field, msgs]) => `${field}: ${msgs.join(", ")}`);
  return named.length ? named.join("; ") : err.message;
}

// Flow records as the agents report them (one row per connection, verdict and deciding rule per
// 15 s window), newest first, from flows.query; the filters live in the URL, and every agent
// report re-renders the page (live indicator). `why` opens the explanation of one record.
export default async function FlowsPage({
  searchParams,
}: {
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  await requireUser();
  const sp = await searchParams;
  const f = flowFilters(sp);
  const why = typeof sp.why === "string" && /^\d{1,18}$/.test(sp.why) ? sp.why : undefined;
  const api = await serverCaller();
  const to = new Date();
  const [result, drops, explained] = await Promise.all([
    api.flows
      .query({
        from: new Date(to.getTime() - SINCE[f.since] * 60_000),
        to,
        namespace: f.namespace,
        pod: f.pod,
        verdict: f.verdict,
        reason: f.reason,
        node: f.node,
        limit: FLOW_PAGE_SIZE,
      })
      .then((r) => ({ items: r.items, error: null }))
      .catch((err: unknown) => ({ items: [], error: refusal(err) })),
    api.flows.drops({ minutes: 15 }),
    why
      ? api.flows.explain({ id: why }).catch((err: unknown) => {
          if (err instanceof TRPCError && err.code === "NOT_FOUND") return null;
          throw err;
        })
      : undefined,
  ]);
  const items = result.items;
  const filtered = hasFilter(f);
  return (
    <>
      <PageHeader title="Flows" />
      <p className="muted">
        Each row is one connection (source, destination, protocol and port) with one verdict and deciding
        rule, as a node&apos;s agent folded its datapath events over a 15 s window: the first packet of each
        connection and every drop (rate-limited per reason; what the limit held back is counted). Pods are
        named by the node that saw the flow, the other end by its address in today&apos;s inventory.
      </p>

      {why && explained ? <FlowWhy e={explained} closeHref={flowsHref(f)} /> : null}
      {why && explained === null ? (
        <p className="banner banner-warn" role="status">
          Flow record {why} is gone: it is older than the retention (MERIDIAN_FLOW_RETENTION_HOURS).
        </p>
      ) : null}

      {/* Keyed by the filters: after a client-side navigation (Clear, a tile's link) the inputs show
          the URL's filters, not what was typed before. */}
      <form key={flowsHref(f)} method="get" className="filters" aria-label="Filter flows">
        <label>
          Namespace <input name="namespace" defaultValue={f.namespace ?? ""} placeholder="shop" />
        </label>
        <label>
          Pod <input name="pod" defaultValue={f.pod ?? ""} placeholder="db-0" />
        </label>
        <label>
          Verdict{" "}
          <select name="verdict" defaultValue={f.verdict ?? ""}>
            <option value="">any</option>
            {FLOW_VERDICTS.map((v) => (
              <option key={v} value={v}>
                {v}
              </option>
            ))}
          </select>
        </label>
        <label>
          Drop reason{" "}
          <select name="reason" defaultValue={f.reason ?? ""}>
            <option value="">any</option>
            {/* A reason a newer agent reports (a tile's link) stays selectable. */}
            {[
              ...Object.keys(DROP_REASON_WORDS),
              ...(f.reason && !(f.reason in DROP_REASON_WORDS) ? [f.reason] : []),
            ].map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <label>
          Node <input name="node" defaultValue={f.node ?? ""} placeholder="node-1" />
        </label>
        <label>
          Since{" "}
          <select name="since" defaultValue={f.since}>
            {Object.keys(SINCE).map((s) => (
              <option key={s} value={s}>
                last {s}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="button secondary">
          Filter
        </button>
        {filtered ? <Link href={flowsHref({ since: f.since })}>Clear</Link> : null}
      </form>
      {result.error ? (
        <p className="banner banner-warn" role="alert">
          The filter was refused: {result.error}
        </p>
      ) : null}

      <table className="grid" data-testid="flows-table">
        <thead>
          <tr>
            <th scope="col">Time (UTC)</th>
            <th scope="col">Node</th>
            <th scope="col">Source</th>
            <th scope="col">Destination</th>
            <th scope="col">Protocol</th>
            <th scope="col">Verdict</th>
            <th scope="col">Drop reason</th>
            <th scope="col">Rule</th>
            <th scope="col">Packets</th>
            <th scope="col">Bytes</th>
          </tr>
        </thead>
        <tbody>
          {items.length === 0 ? (
            <tr>
              <td colSpan={10} className="muted" data-testid="flows-empty">
                {drops.lastReportAt === null
                  ? "No agent has reported flows yet: agents send them every 15 s once their datapath sees traffic."
                  : filtered || result.error
                    ? `No flows in the last ${f.since} match the filter.`
                    : `No flows in the last ${f.since}; the newest was reported at ${drops.lastReportAt.toISOString().slice(0, 19).replace("T", " ")} UTC.`}
              </td>
            </tr>
          ) : null}
          {items.map((r) => (
            <tr key={r.id} aria-current={r.id === why ? "true" : undefined}>
              <td>{r.at.toISOString().slice(11, 19)}</td>
              <td>{r.node}</td>
              <td>{endLabel(r.source, r.sourcePod)}</td>
              <td>{endLabel(r.destination, r.destinationPod, r.port)}</td>
              <td>{r.protocol.toUpperCase()}</td>
              <td>
                <StatusBadge tone={flowVerdictTone(r.verdict)} label={r.verdict} />
              </td>
              <td>
                {r.verdict === "dropped" ? (
                  <>
                    {r.reason ?? "—"}{" "}
                    <Link
                      href={flowsHref(f, { why: r.id })}
                      aria-label={`Why was the flow at ${r.at.toISOString().slice(11, 19)} dropped?`}
                    >
                      Why?
                    </Link>
                  </>
                ) : (
                  "—"
                )}
              </td>
              <td>{r.ruleId ?? "—"}</td>
              <td>
                {r.packets}
                {r.suppressed ? <span className="muted"> (+{r.suppressed} held back)</span> : null}
              </td>
              <td>{bytesLabel(r.bytes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {items.length === FLOW_PAGE_SIZE ? (
        <p className="muted" data-testid="flows-capped">
          Showing the newest {FLOW_PAGE_SIZE}; narrow the filter or the window to see older flows, or export
          them all (GET /api/v1/flows/export).
        </p>
      ) : null}
    </>
  );
}
