// Runs once when the console's server starts; the Node-only part lives in its own module so
// that the Edge build of this file never sees node:http.
export async function register() {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { stampClientAddresses } = await import("./src/server/client-address-stamp");
    stampClientAddresses();
  }
}
