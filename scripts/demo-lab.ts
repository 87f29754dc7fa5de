// Brings up the demo lab for `npm start`: signs in to the console, runs `lab up` with that
// session so the lab's agents join this control plane, then the BGP demo (FRR as the lab's ToR)
// the DNS demo (dnsmasq and an FQDN policy on the shop's client pods) and the egress demo (the
// shop's web pods reach ext1 through node2 with a fixed source address).
//
//   MERIDIAN_LAB_EMAIL=… MERIDIAN_LAB_PASSWORD=… tsx scripts/demo-lab.ts http://127.0.0.1:3000 [--prefix mrdlab-]
//
// npm start passes the admin's credentials for the database in use. Progress goes to stdout (npm
// start keeps it in its log); a failure exits 1 with one line on stderr that says which step
// failed and why, e.g. "the lab's sign-in as admin@meridian.local was refused: wrong email or password".
import { parseArgs } from "node:util";
import { createMeridianClient } from "@meridian/api/client";
import { labUp } from "../e2e/lab/cli";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { prefix: { type: "string", default: "mrdlab-" } },
});
const url = positionals[0] ?? "http://127.0.0.1:3000";
const prefix = values.prefix;

/** A failure whose message is already the sentence to show. */
class LabStepError extends Error {}

/** The innermost cause's code or message: "fetch failed" alone says nothing. */
function rootCause(err: unknown): string {
  let e = err as { cause?: unknown; code?: string; message?: string } | undefined;
  while (e?.cause) e = e.cause as typeof e;
  return e?.code ? `${e.code}${e.message ? ` (${e.message})` : ""}` : (e?.message ?? String(err));
}

async function signIn(email: string, password: string): Promise<string> {
  try {
    const r = await createMeridianClient({ url }).auth.login.mutate({ email, password });
    return r.sessionToken;
  } catch (err) {
    const code = (err as { data?: { code?: string } }).data?.code;
    if (code === "UNAUTHORIZED" || code === "TOO_MANY_REQUESTS")
      throw new LabStepError(`the lab's sign-in as ${email} was refused: ${(err as Error).message}`);
    if (code) throw new LabStepError(`the lab's sign-in as ${email} failed: ${(err as Error).message}`);
    throw new LabStepError(`the lab could not reach the console at ${url}: ${rootCause(err)}`);
  }
}

async function main(): Promise<void> {
  const email = process.env.MERIDIAN_LAB_EMAIL;
  const password = process.env.MERIDIAN_LAB_PASSWORD;
  if (!email || !password)
    throw new LabStepError(
      "the lab has no account to sign in with (MERIDIAN_LAB_EMAIL, MERIDIAN_LAB_PASSWORD)",
    );
  console.log(`signing in to ${url} as ${email}`);
  const sessionToken = await signIn(email, password);
  try {
    await labUp({ prefix, controlPlane: { url, token: sessionToken } });
  } catch (err) {
    throw new LabStepError(`the lab could not be built: ${(err as Error).message}`);
  }
  // BGP with FRR as the lab's ToR: a failure here leaves the lab up and says why.
  const { startDemoBgp } = await import("../e2e/lab/demo-bgp");
  const { demoTopology } = await import("../e2e/lab/topology");
  const admin = createMeridianClient({ url, token: sessionToken });
  try {
    console.log(await startDemoBgp({ prefix, topology: demoTopology, client: admin }));
  } catch (err) {
    console.log(`BGP demo failed: ${(err as Error).message}`);
  }
  // FQDN policy with dnsmasq as the lab's DNS server: a failure here too leaves the lab up.
  const { startDemoDns } = await import("../e2e/lab/demo-dns");
  try {
    console.log(await startDemoDns({ prefix, topology: demoTopology, client: admin }));
  } catch (err) {
    console.log(`DNS demo failed: ${(err as Error).message}`);
  }
  // Egress Gateway: the shop's web pods leave for ext1 through node2 with its address.
  const { startDemoEgress } = await import("../e2e/lab/demo-egress");
  try {
    console.log(await startDemoEgress({ prefix, topology: demoTopology, client: admin }));
  } catch (err) {
    console.log(`Egress demo failed: ${(err as Error).message}`);
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    // The whole story for the log, one sentence last for the screen.
    if (!(err instanceof LabStepError)) console.log(err.stack);
    const reason = err instanceof LabStepError ? err.message : `the demo lab failed: ${err.message}`;
    console.error(reason.replace(/\s*\n\s*/g, " "));
    process.exit(1);
  },
);
