// Brings up the demo lab for `npm start`: signs in as the seeded admin (credentials from
// .meridian/admin-credentials.txt) and runs `lab up` with that session, so the lab's agents
// join this control plane. Usage: tsx scripts/demo-lab.ts http://127.0.0.1:3000
import { readFileSync } from "node:fs";
import path from "node:path";
import { createMeridianClient } from "@meridian/api/client";

const url = process.argv[2] ?? "http://127.0.0.1:3000";
const root = path.resolve(import.meta.dirname, "..");
const creds = readFileSync(path.join(root, ".meridian", "admin-credentials.txt"), "utf8");
const email = creds.match(/^email: (.+)$/m)?.[1];
const password = creds.match(/^password: (.+)$/m)?.[1];
if (!email || !password) {
  console.error("demo lab: .meridian/admin-credentials.txt has no email/password");
  process.exit(1);
}
const client = createMeridianClient({ url });
const { sessionToken } = await client.auth.login.mutate({ email, password });
const { main } = await import("../e2e/lab/cli");
process.exitCode = await main(["up", "--api", url, "--api-token", sessionToken]);
if (process.exitCode === 0) {
  // BGP with FRR as the lab's ToR: a failure here leaves the lab up and says why.
  const { startDemoBgp } = await import("../e2e/lab/demo-bgp");
  const { DEFAULT_PREFIX } = await import("../e2e/lab/builder");
  const { demoTopology } = await import("../e2e/lab/topology");
  const admin = createMeridianClient({ url, token: sessionToken });
  try {
    console.log(await startDemoBgp({ prefix: DEFAULT_PREFIX, topology: demoTopology, client: admin }));
  } catch (err) {
    console.log(`BGP demo not started: ${(err as Error).message}`);
  }
}
