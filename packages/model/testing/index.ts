// @meridian/model/testing: the desired-state fixtures every suite builds on — a small cluster as the
// compiler reads it (specs parsed through the real schemas) and a node's desired state as the
// compiler sends it. Tests only.
export * from "./cluster";
export * from "./desired-state";
