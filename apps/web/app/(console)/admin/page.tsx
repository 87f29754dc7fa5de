import { AdminForms } from "@/components/admin-forms";
import { GridTable } from "@/components/grid";
import { PageHeader } from "@/components/page-header";
import { serverCaller } from "@/server/caller";
import { requireUser } from "@/server/session";

export const dynamic = "force-dynamic";

export default async function AdminPage() {
  const me = await requireUser();
  if (!me.isAdmin) {
    return (
      <>
        <PageHeader title="Admin" />
        <p className="muted">Users, API tokens and join tokens need the admin role; you have {me.role}.</p>
      </>
    );
  }
  const api = await serverCaller();
  const [users, tokens, joins] = await Promise.all([
    api.users.list({ limit: 200 }),
    api.apiTokens.list({ limit: 200 }),
    api.joinTokens.list({ limit: 200, includeUsed: true }),
  ]);
  const d = (x: Date | null) => (x ? x.toISOString().slice(0, 16).replace("T", " ") : "—");
  return (
    <>
      <PageHeader title="Admin" />
      <section className="section" aria-labelledby="h-users">
        <h2 id="h-users">Users and roles</h2>
        <GridTable columns={["Email", "Name", "Role", "State"]}>
          {users.items.map((u) => (
            <tr key={u.id}>
              <th scope="row">{u.email}</th>
              <td>{u.name || "—"}</td>
              <td>{u.role}</td>
              <td>{u.disabled ? "disabled" : "active"}</td>
            </tr>
          ))}
        </GridTable>
      </section>
      <section className="section" aria-labelledby="h-tokens">
        <h2 id="h-tokens">API tokens</h2>
        <GridTable
          columns={["Name", "Prefix", "Role", "Expires", "Last used", "State"]}
          empty={tokens.items.length === 0 && "No API tokens."}
        >
          {tokens.items.map((t) => (
            <tr key={t.id}>
              <th scope="row">{t.name}</th>
              <td>
                <code>{t.prefix}…</code>
              </td>
              <td>{t.role}</td>
              <td>{d(t.expiresAt)}</td>
              <td>{d(t.lastUsedAt)}</td>
              <td>{t.revokedAt ? "revoked" : "active"}</td>
            </tr>
          ))}
        </GridTable>
      </section>
      <section className="section" aria-labelledby="h-join">
        <h2 id="h-join">Node join tokens</h2>
        <GridTable
          columns={["Prefix", "For node", "Description", "Expires", "Used"]}
          empty={joins.items.length === 0 && "No join tokens."}
        >
          {joins.items.map((t) => (
            <tr key={t.id}>
              <th scope="row">
                <code>{t.prefix}…</code>
              </th>
              <td>{t.nodeName ?? "any"}</td>
              <td>{t.description || "—"}</td>
              <td>{d(t.expiresAt)}</td>
              <td>{t.usedAt ? `${d(t.usedAt)} by ${t.usedByNode}` : "not yet"}</td>
            </tr>
          ))}
        </GridTable>
      </section>
      <AdminForms />
    </>
  );
}
