import { AdminForms } from "@/components/admin-forms";
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
        <table className="grid">
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {users.items.map((u) => (
              <tr key={u.id}>
                <th scope="row">{u.email}</th>
                <td>{u.name || "—"}</td>
                <td>{u.role}</td>
                <td>{u.disabled ? "disabled" : "active"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section className="section" aria-labelledby="h-tokens">
        <h2 id="h-tokens">API tokens</h2>
        <table className="grid">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Prefix</th>
              <th scope="col">Role</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {tokens.items.length === 0 ? (
              <tr>
                <td colSpan={6} className="muted">
                  No API tokens.
                </td>
              </tr>
            ) : null}
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
          </tbody>
        </table>
      </section>
      <section className="section" aria-labelledby="h-join">
        <h2 id="h-join">Node join tokens</h2>
        <table className="grid">
          <thead>
            <tr>
              <th scope="col">Prefix</th>
              <th scope="col">For node</th>
              <th scope="col">Description</th>
              <th scope="col">Expires</th>
              <th scope="col">Used</th>
            </tr>
          </thead>
          <tbody>
            {joins.items.length === 0 ? (
              <tr>
                <td colSpan={5} className="muted">
                  No join tokens.
                </td>
              </tr>
            ) : null}
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
          </tbody>
        </table>
      </section>
      <AdminForms />
    </>
  );
}
