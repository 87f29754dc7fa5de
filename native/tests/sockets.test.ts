import { execFile } from "node:child_process";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  getOriginalDst,
  getsockoptInt,
  isNativeError,
  setIpTransparent,
  setTcpMd5Sig,
  socketFd,
} from "../index";
import { requireBpf } from "./helpers";

const SOL_IP = 0;
const IP_TRANSPARENT = 19;

let server: net.Server;
let port = 0;
beforeAll(async () => {
  requireBpf();
  server = net.createServer((s) => s.end("hello"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as net.AddressInfo).port;
  // The listener accepts only segments signed with this key from 127.0.0.1.
  setTcpMd5Sig(socketFd(server), "127.0.0.1", "s3cret-bgp-key");
});
afterAll(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

// Node creates a client's fd only inside connect(), too late to sign the SYN, so the
// signing client is a tiny Python process; the listener under test is ours.
const PY_CLIENT = `
import socket, struct, sys
port, key = int(sys.argv[1]), sys.argv[2].encode()
s = socket.socket()
if key:
    addr = struct.pack("<H2s4s", socket.AF_INET, b"\\0\\0", socket.inet_aton("127.0.0.1")).ljust(128, b"\\0")
    s.setsockopt(socket.IPPROTO_TCP, 14, addr + struct.pack("<BBHi", 0, 0, len(key), 0) + key.ljust(80, b"\\0"))
s.settimeout(1.5)
try:
    s.connect(("127.0.0.1", port))
    print(s.recv(100).decode())
except socket.timeout:
    print("timeout")
`;

function connect(key = ""): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("python3", ["-c", PY_CLIENT, String(port), key], { timeout: 10000 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout.trim()),
    );
  });
}

describe("TCP_MD5SIG", () => {
  it("a peer signing with the right key connects", async () => {
    await expect(connect("s3cret-bgp-key")).resolves.toBe("hello");
  });

  it("an unsigned peer cannot connect to a listener that requires a signature", async () => {
    await expect(connect()).resolves.toBe("timeout");
  });

  it("a peer signing with the wrong key cannot connect", async () => {
    await expect(connect("wrong-key")).resolves.toBe("timeout");
  });

  it("rejects keys over 80 bytes and bad addresses", () => {
    expect(() => setTcpMd5Sig(socketFd(server), "127.0.0.1", "x".repeat(81))).toThrow(TypeError);
    expect(() => setTcpMd5Sig(socketFd(server), "not-an-ip", "k")).toThrow(TypeError);
  });
});

describe("transparent proxy options", () => {
  it("sets IP_TRANSPARENT on a socket", async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    setIpTransparent(socketFd(s), true);
    expect(getsockoptInt(socketFd(s), SOL_IP, IP_TRANSPARENT)).toBe(1);
    setIpTransparent(socketFd(s), false);
    expect(getsockoptInt(socketFd(s), SOL_IP, IP_TRANSPARENT)).toBe(0);
    await new Promise<void>((r) => s.close(() => r()));
  });

  it("SO_ORIGINAL_DST on a connection nothing redirected is an error with errno", async () => {
    const plain = net.createServer((c) => c.end());
    await new Promise<void>((r) => plain.listen(0, "127.0.0.1", r));
    const s = net.connect((plain.address() as net.AddressInfo).port, "127.0.0.1");
    await new Promise<void>((r, j) => s.on("connect", r).on("error", j));
    let err: unknown;
    try {
      getOriginalDst(socketFd(s));
    } catch (e) {
      err = e;
    }
    s.destroy();
    await new Promise<void>((r) => plain.close(() => r()));
    // No conntrack NAT entry: ENOENT (or ENOPROTOOPT without nf_conntrack).
    expect(isNativeError(err)).toBe(true);
  });

  it("an fd that is not a socket is an error, not a crash", () => {
    expect(() => setIpTransparent(0x7ffffff0, true)).toThrow(expect.objectContaining({ code: "EBADF" }));
  });
});
