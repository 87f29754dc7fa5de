// The agent's typed datapath layer: layouts, loader, map access, policy compilation, events,
// ipcache owners and the rollback every reconciler shares.
export * from "./events";
export * from "./ipcache-owners";
export * from "./layout";
export * from "./loader";
export * from "./maps";
export * from "./policy";
export * from "./transaction";
