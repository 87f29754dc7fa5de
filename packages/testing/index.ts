export * from "./real-parts.js";
