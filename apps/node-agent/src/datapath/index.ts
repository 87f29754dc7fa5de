// The agent's typed datapath layer: layouts, loader, map access, policy compilation, events.
export * from "./events";
export * from "./layout";
export * from "./loader";
export * from "./maps";
export * from "./policy";
