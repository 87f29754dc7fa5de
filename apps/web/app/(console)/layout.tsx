import { redirect } from "next/navigation";
import type { ReactNode } from "react";
import { LiveIndicator } from "@/components/live-indicator";
import { NavLinks } from "@/components/nav-links";
import { Providers } from "@/lib/trpc";
import { currentUser } from "@/server/caller";

export const dynamic = "force-dynamic";

// The console frame: top bar (who, role, live state, sign-out), left navigation, content.
export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const me = await currentUser();
  if (!me?.user) redirect("/login");
  return (
    <Providers>
      <div className="frame">
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <header className="topbar">
          <span className="brand">
            <span className="brand-mark" aria-hidden="true">
              ◆
            </span>{" "}
            Meridian
          </span>
          <LiveIndicator renderedAt={Date.now()} />
          <form method="post" action="/api/auth/logout" className="whoami">
            <span>
              {me.user.email} · role <strong data-testid="role">{me.role}</strong>
            </span>
            <button type="submit" className="link">
              Sign out
            </button>
          </form>
        </header>
        <nav className="sidenav" aria-label="Main">
          <NavLinks />
        </nav>
        <main id="main" className="content">
          {children}
        </main>
      </div>
    </Providers>
  );
}
