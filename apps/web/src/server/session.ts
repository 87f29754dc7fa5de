// The signed-in person for server components: redirects to sign-in when there is none, and says
// whether they may edit (operators and admins; the API refuses everyone else anyway).
import { redirect } from "next/navigation";
import { currentUser } from "./caller";

export async function requireUser() {
  const me = await currentUser();
  if (!me?.user || !me.role) redirect("/login");
  const role = me.role as "admin" | "operator" | "viewer";
  return { email: me.user.email, role, canEdit: role !== "viewer", isAdmin: role === "admin" };
}
