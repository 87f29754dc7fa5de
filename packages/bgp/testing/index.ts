// Test support for this package and the packages that drive a BGP speaker against real routers
// (the node agent, the benchmark): a network-namespace lab with FRR, and the JSON-lines driver
// that runs our speaker inside it. `@meridian/bgp/testing`; not part of the library.
export { Driver, Lab, pkgDir, sh, startFrr, until } from "./lab.js";
