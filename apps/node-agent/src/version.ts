// The agent's version as it reports it (status, the DNS proxy's `startedBy`). MERIDIAN_AGENT_BUILD
// adds build metadata (semver `+…`): a rebuilt agent of the same release says it is another build.
const RELEASE = "0.1.0";
const build = process.env.MERIDIAN_AGENT_BUILD?.replace(/[^0-9A-Za-z.-]/g, "").slice(0, 40);
export const AGENT_VERSION = build ? `${RELEASE}+${build}` : RELEASE;
