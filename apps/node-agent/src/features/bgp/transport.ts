// TCP-MD5 (RFC 2385) and the IP TTL for eBGP multihop need setsockopt calls Node lacks; the
// speaker takes them through its Transport hooks and @meridian/native supplies them.
import type { Transport } from "@meridian/bgp";

const IPPROTO_IP = 0;
const IP_TTL = 2;
const IPPROTO_IPV6 = 41;
const IPV6_UNICAST_HOPS = 16;

/** eBGP TTL (1, or the multihop value) on the socket of the peer's family. */
function setTtl(native: typeof import("@meridian/native"), fd: number, address: string, ttl: number): void {
  if (address.includes(":")) native.setsockoptInt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl);
  else native.setsockoptInt(fd, IPPROTO_IP, IP_TTL, ttl);
}

/** Loads the addon lazily so code that never opens a BGP session does not need it built. */
export async function nativeTransport(): Promise<Transport> {
  const native = await import("@meridian/native");
  return {
    beforeConnect(fd, peer) {
      // The key must be on the socket before the SYN, or the peer drops every segment.
      if (peer.md5Password) native.setTcpMd5Sig(fd, peer.address, peer.md5Password);
      setTtl(native, fd, peer.address, peer.ttl);
    },
    configureSocket(socket, peer) {
      // Accepted connections get the TTL too; a dual-stack listener's IPv4 peers take IP_TTL.
      setTtl(native, native.socketFd(socket), peer.address, peer.ttl);
    },
    configureServer(server, peers, removedKeys = []) {
      const fd = native.socketFd(server);
      const v6 = (server.address() as { family: string }).family === "IPv6";
      // A dual-stack listener sees IPv4 peers as v4-mapped addresses; the key must match that form.
      const form = (a: string) => (v6 && !a.includes(":") ? `::ffff:${a}` : a);
      for (const p of peers) if (p.md5Password) native.setTcpMd5Sig(fd, form(p.address), p.md5Password);
      // An empty key deletes the peer's key: a peer whose password was removed may dial in unsigned.
      for (const a of removedKeys) {
        try {
          native.setTcpMd5Sig(fd, form(a), "");
        } catch {
          // Already gone (ENOENT): nothing to take off.
        }
      }
    },
  };
}
