// Where to go after signing in: only ever a path on this console. `next` arrives from a link
// anyone can write, so it is parsed as a browser would parse it, against our own origin, and
// only a same-origin result is kept, reduced to its path, query and fragment.

/** Stands for "this console" when the real origin is not at hand: only the path part is kept. */
const OWN_ORIGIN = "http://console.invalid";

export function safeNext(next: unknown, ownOrigin: string = OWN_ORIGIN): string {
  if (typeof next !== "string" || next === "") return "/";
  let origin: string;
  let url: URL;
  try {
    origin = new URL(ownOrigin).origin;
    url = new URL(next, origin);
  } catch {
    return "/";
  }
  if (url.origin !== origin) return "/";
  const path = `${url.pathname}${url.search}${url.hash}`;
  // Dot segments can leave a path that starts with "//" ("/.//evil.example" parses to
  // "//evil.example"), which a browser reads as another host when it follows the redirect.
  return path.startsWith("//") || path.startsWith("/\\") ? "/" : path;
}
