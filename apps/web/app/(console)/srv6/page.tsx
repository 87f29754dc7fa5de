import Link from "next/link";
import { ObjectTable, sel, specOf } from "@/components/object-table";
import { PageHeader } from "@/components/page-header";
import { StatusBadge, toneOfHealth } from "@/components/status";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

const NOT_REPORTED = "not reported";

// SRv6 L3VPN: the intent (locator pools, VRFs, static policies; each node's locator and each VRF's
// SID as the control plane allocated them) beside what each node's agent last reported from its
// datapath — the SIDs and SR policies it holds and its packet counters, drops by reason.
export default async function Srv6Page() {
  const me = await requireUser();
  const api = await serverCaller();
  const [pools, vrfs, policies, live] = await Promise.all([
    api.srv6.locatorPools.list({ limit: 200 }),
    api.srv6.vrfs.list({ limit: 200 }),
    api.srv6.policies.list({ limit: 200 }),
    api.srv6.overview(),
  ]);
  const installedOn = new Map(live.staticPolicies.map((p) => [p.name, p.installedOn]));
  const servedBy = new Map(live.vrfs.map((v) => [v.name, v.nodes.length]));
  const datapathPolicies = live.vrfs.flatMap((v) => v.policies.map((p) => ({ ...p, vrf: v.name })));
  const exportedRoutes = live.vrfs.flatMap((v) => v.exported.map((e) => ({ ...e, vrf: v.name })));
  return (
    <>
      <PageHeader title="SRv6 L3VPN" />
      <p className="muted">
        Each node gets a locator from a pool and each VRF a SID under it, allocated once and kept until the
        node or VRF is deleted. Beside that intent is what each node&apos;s agent last reported from its
        datapath; a node whose agent has not reported shows no live state.
      </p>

      <h2>Nodes</h2>
      <table className="grid" data-testid="srv6-nodes">
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Agent</th>
            <th scope="col">Locators (allocated)</th>
            <th scope="col">Locators (agent)</th>
            <th scope="col">Encapsulated</th>
            <th scope="col">Decapsulated</th>
            <th scope="col">Drops by reason</th>
            <th scope="col">Problems</th>
          </tr>
        </thead>
        <tbody>
          {live.nodes.length === 0 ? (
            <tr>
              <td colSpan={8} className="muted">
                No node is registered.
              </td>
            </tr>
          ) : null}
          {live.nodes.map((n) => {
            const counter = (name: string) => n.forwarded.find((c) => c.name === name)?.packets;
            const dropped = n.drops.filter((d) => d.packets > 0);
            return (
              <tr key={n.name} data-node={n.name}>
                <td>
                  <Link href={`/nodes/${encodeURIComponent(n.name)}`}>{n.name}</Link>
                </td>
                <td>
                  <StatusBadge
                    tone={!n.reported || n.stale ? "unknown" : toneOfHealth(n.state)}
                    label={
                      !n.reported ? NOT_REPORTED : n.stale ? `${n.state} (node not heard from)` : n.state
                    }
                    title={n.message}
                  />
                  {n.reported ? <div className="muted">{n.message}</div> : null}
                </td>
                <td>{n.locators.length ? n.locators.map((l) => <code key={l}>{l} </code>) : "—"}</td>
                <td>
                  {!n.reported ? (
                    <span className="muted">{NOT_REPORTED}</span>
                  ) : n.reportedLocators.length ? (
                    n.reportedLocators.map((l) => <code key={l}>{l} </code>)
                  ) : (
                    "none"
                  )}
                </td>
                <td>{n.reported ? (counter("encapsulated") ?? 0) : "—"}</td>
                <td>{n.reported ? (counter("decapsulated") ?? 0) : "—"}</td>
                <td data-testid="srv6-drops">
                  {!n.reported
                    ? "—"
                    : dropped.length
                      ? dropped.map((d) => `${d.reason.replaceAll("_", " ")}: ${d.packets}`).join(", ")
                      : "none"}
                </td>
                <td>{n.problems.length ? n.problems.join("; ") : <span className="muted">none</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>

      <h2>VRFs on nodes</h2>
      <table className="grid" data-testid="srv6-vrf-nodes">
        <thead>
          <tr>
            <th scope="col">VRF</th>
            <th scope="col">Node</th>
            <th scope="col">SID (allocated)</th>
            <th scope="col">SID (agent)</th>
            <th scope="col">Members (intent / agent)</th>
            <th scope="col">Policies in datapath (static / BGP)</th>
          </tr>
        </thead>
        <tbody>
          {live.vrfs.every((v) => v.nodes.length === 0) ? (
            <tr>
              <td colSpan={6} className="muted">
                No node serves a VRF: a node serves one when it has a locator in the VRF&apos;s pool and a
                member pod.
              </td>
            </tr>
          ) : null}
          {live.vrfs.flatMap((v) =>
            v.nodes.map((n) => (
              <tr key={`${v.name}|${n.node}`} data-vrf={v.name} data-node={n.node}>
                <td>{v.name}</td>
                <td>{n.node}</td>
                <td>
                  <code>{n.sid}</code>
                </td>
                <td>
                  {!n.reported ? (
                    <span className="muted">{NOT_REPORTED}</span>
                  ) : n.reported.sid === n.sid ? (
                    <code>{n.reported.sid}</code>
                  ) : (
                    <StatusBadge
                      tone="warn"
                      label={n.reported.sid ? `${n.reported.sid} (differs)` : "no SID in datapath"}
                    />
                  )}
                </td>
                <td>
                  {n.members} / {n.reported ? n.reported.members : "—"}
                </td>
                <td>{n.reported ? `${n.reported.staticPolicies} / ${n.reported.bgpPolicies}` : "—"}</td>
              </tr>
            )),
          )}
        </tbody>
      </table>

      <h2>SR policies in the datapath</h2>
      <table className="grid" data-testid="srv6-datapath-policies">
        <thead>
          <tr>
            <th scope="col">VRF</th>
            <th scope="col">Node</th>
            <th scope="col">Destination</th>
            <th scope="col">Segments</th>
            <th scope="col">From</th>
          </tr>
        </thead>
        <tbody>
          {datapathPolicies.length === 0 ? (
            <tr>
              <td colSpan={5} className="muted">
                No agent reports an SR policy.
              </td>
            </tr>
          ) : null}
          {datapathPolicies.map((p) => (
            <tr key={`${p.vrf}|${p.node}|${p.destination}`}>
              <td>{p.vrf}</td>
              <td>{p.node}</td>
              <td>
                <code>{p.destination}</code>
              </td>
              <td>
                <code>{p.segments.join(" → ")}</code>
              </td>
              <td>
                {p.source === "bgp"
                  ? `BGP${p.peer ? ` (peer ${p.peer}${p.rd ? `, RD ${p.rd}` : ""})` : ""}${p.stale ? ", stale (graceful restart)" : ""}`
                  : "static"}
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      <h2>VPN routes exported</h2>
      <table className="grid" data-testid="srv6-exported-routes">
        <thead>
          <tr>
            <th scope="col">VRF</th>
            <th scope="col">Node</th>
            <th scope="col">Prefix</th>
            <th scope="col">RD</th>
            <th scope="col">Route targets</th>
            <th scope="col">SID</th>
          </tr>
        </thead>
        <tbody>
          {exportedRoutes.length === 0 ? (
            <tr>
              <td colSpan={6} className="muted">
                No agent reports an exported VPN route (a VRF needs export route targets, an RD and member
                pods).
              </td>
            </tr>
          ) : null}
          {exportedRoutes.map((e) => (
            <tr key={`${e.vrf}|${e.node}|${e.prefix}`}>
              <td>{e.vrf}</td>
              <td>{e.node}</td>
              <td>
                <code>{e.prefix}</code>
              </td>
              <td>{e.routeDistinguisher}</td>
              <td>{e.routeTargets.join(", ")}</td>
              <td>
                <code>{e.sid}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      <ObjectTable
        title="Locator pools"
        kind="srv6-pools"
        rows={pools.items}
        total={pools.total}
        canEdit={me.canEdit}
        columns={[
          { header: "Prefix", cell: (r) => String(specOf(r).prefix) },
          { header: "Locator length", cell: (r) => `/${String(specOf(r).locatorLength)}` },
        ]}
      />
      <ObjectTable
        title="VRFs"
        kind="srv6-vrfs"
        rows={vrfs.items}
        total={vrfs.total}
        canEdit={me.canEdit}
        columns={[
          { header: "VRF ID", cell: (r) => String(specOf(r).vrfID) },
          { header: "RD", cell: (r) => String(specOf(r).routeDistinguisher ?? "—") },
          { header: "Members", cell: (r) => sel(specOf(r).memberSelector) },
          { header: "Served on", cell: (r) => `${servedBy.get(r.name) ?? 0} node(s)` },
        ]}
      />
      <ObjectTable
        title="Static policies"
        kind="srv6-policies"
        rows={policies.items}
        total={policies.total}
        canEdit={me.canEdit}
        columns={[
          { header: "VRF", cell: (r) => String(specOf(r).vrf) },
          { header: "Destination", cell: (r) => String(specOf(r).destination) },
          { header: "Segments", cell: (r) => ((specOf(r).segments as string[]) ?? []).join(" → ") },
          {
            header: "Installed (agents reporting it)",
            cell: (r) => {
              const on = installedOn.get(r.name) ?? [];
              return on.length ? on.join(", ") : <span className="muted">none reported</span>;
            },
          },
        ]}
      />
    </>
  );
}
