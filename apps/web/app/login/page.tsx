import { redirect } from "next/navigation";
import { currentUser } from "@/server/caller";

export const dynamic = "force-dynamic";

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<{ error?: string; email?: string; next?: string }>;
}) {
  const params = await searchParams;
  if ((await currentUser())?.user) redirect(params.next ?? "/");
  return (
    <main className="login">
      <form className="card login-card" method="post" action="/api/auth/login" aria-labelledby="login-title">
        <h1 id="login-title">
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>{" "}
          Meridian
        </h1>
        <p className="muted">Sign in to the network console</p>
        {params.error ? (
          <p className="form-error" role="alert">
            {params.error}
          </p>
        ) : null}
        <label htmlFor="email">Email</label>
        <input
          id="email"
          name="email"
          type="email"
          autoComplete="username"
          required
          defaultValue={params.email ?? ""}
        />
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required />
        <input type="hidden" name="next" value={params.next ?? "/"} />
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}
