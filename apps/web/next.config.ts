import path from "node:path";
import type { NextConfig } from "next";

const config: NextConfig = {
  // Internal packages export TypeScript source; Next compiles them with the app.
  transpilePackages: ["@meridian/api", "@meridian/model", "@meridian/db"],
  // Database drivers and WASM stay plain Node modules on the server.
  serverExternalPackages: ["pg", "@prisma/adapter-pg", "@electric-sql/pglite", "@electric-sql/pglite-socket"],
  turbopack: { root: path.join(import.meta.dirname, "..", "..") },
  poweredByHeader: false,
  typedRoutes: false,
};

export default config;
