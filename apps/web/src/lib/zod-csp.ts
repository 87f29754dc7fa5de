// The console's Content-Security-Policy forbids eval. zod 4 compiles object parsers with
// `new Function` when it can, and merely probing for that is a CSP violation in the browser;
// jitless parsing is the same parse without the probe. Browser only: the server (which also
// serves the API) keeps zod's compiled parsers. Imported by the modules that parse with zod in
// client components, and by the tRPC provider that every page loads.
import { z } from "zod";

if ("window" in globalThis) z.config({ jitless: true });
