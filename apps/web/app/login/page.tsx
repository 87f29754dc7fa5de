import { redirect } from "next/navigation";
import { loginErrorMessage } from "@/lib/login-messages";
import { currentUser } from "@/server/caller";
import { safeNext } from "@/server/safe-next";

export const dynamic = "force-dynamic";

export default async function LoginPage({
  searchParams,
}: {
  searchParams: Promise<{ error?: string; email?: string; next?: string; wait?: string }>;
}) {
  const params = await searchParams;
  const next = safeNext(params.next);
  if ((await currentUser())?.user) redirect(next);
  const error = loginErrorMessage(params.error, params.wait);
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
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
        <label htmlFor="email">Email</label>
        <input
          id="email"
          name="email"
          type="email"
          autoComplete="username"
          required
          defaultValue={typeof params.email === "string" ? params.email.slice(0, 320) : ""}
        />
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required />
        <input type="hidden" name="next" value={next} />
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}
