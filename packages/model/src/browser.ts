// @meridian/model in the browser (the "browser" condition of package.json's exports): the
// schemas and specs client components parse with, without the compiler. The compiler hashes with
// node:crypto, and the bundler's browser stand-in for it (crypto-browserify with a `vm` polyfill
// that calls eval) broke the console's Content-Security-Policy on the NOC wall and weighed 500 kB.
// Same files as index.ts, so a client import means what a server import means.
export * from "./agent/schemas";
export * from "./agent/status-schemas";
export * from "./bgp/looking-glass-schemas";
export * from "./bgp/session-schemas";
export * from "./dns/schemas";
export * from "./flows/reasons";
export * from "./spec";
