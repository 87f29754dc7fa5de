// DNS messages as the proxy sees them, through dns-packet: a query is accepted (one question of
// class IN, opcode QUERY, a name that decodes) or answered with an error the proxy builds itself.
// Nothing here throws on hostile input: every decode is caught and becomes FORMERR or a drop.
import dnsPacket from "dns-packet";

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type RcodeName = keyof typeof RCODE;
const RCODE_NAMES = Object.keys(RCODE) as RcodeName[];
/** NOERROR, REFUSED…; a code without a name of ours as its number. */
export const rcodeName = (rcode: number): string => RCODE_NAMES[rcode] ?? String(rcode);
const RD = 0x0100;
const RA = 0x0080;
const QR = 0x8000;
const OPCODE_MASK = 0x7800;
const HEADER = 12;
/** The longest DNS name in wire form (RFC 1035 §2.3.4: 255 octets); the API limits names to 253 characters. */
const MAX_NAME_CHARS = 253;

export type QueryCheck =
  | { ok: true; id: number; name: string; type: string; packet: dnsPacket.DecodedPacket }
  /** reply: an error answer to send; null: too short to answer (no header), dropped. */
  | { ok: false; reply: Buffer | null; why: string };

/** A header-only answer with `rcode`, for a message whose question cannot be trusted. */
function headerOnly(query: Buffer, rcode: number): Buffer {
  const out = Buffer.alloc(HEADER);
  query.copy(out, 0, 0, 2);
  const flags = query.readUInt16BE(2);
  out.writeUInt16BE(QR | (flags & OPCODE_MASK) | (flags & RD) | RA | rcode, 2);
  return out;
}

/** Is this a query the proxy can decide on? Any message that is not gets its error answer (or none). */
export function checkQuery(msg: Buffer): QueryCheck {
  if (msg.length < HEADER) return { ok: false, reply: null, why: "shorter than a DNS header" };
  const flags = msg.readUInt16BE(2);
  // An answer sent to the proxy is never forwarded or answered (no reflection).
  if (flags & QR) return { ok: false, reply: null, why: "a response, not a query" };
  const opcode = (flags & OPCODE_MASK) >> 11;
  if (opcode !== 0) return { ok: false, reply: headerOnly(msg, RCODE.NOTIMP), why: `opcode ${opcode}` };
  let packet: dnsPacket.DecodedPacket;
  try {
    packet = dnsPacket.decode(msg);
  } catch (err) {
    return {
      ok: false,
      reply: headerOnly(msg, RCODE.FORMERR),
      why: `undecodable: ${(err as Error).message}`,
    };
  }
  const questions = packet.questions ?? [];
  if (questions.length !== 1)
    return { ok: false, reply: headerOnly(msg, RCODE.FORMERR), why: `${questions.length} questions` };
  const q = questions[0]!;
  if (typeof q.name !== "string" || q.name.length > MAX_NAME_CHARS)
    return { ok: false, reply: headerOnly(msg, RCODE.FORMERR), why: "name too long" };
  if (q.class !== undefined && q.class !== "IN" && q.class !== ("ANY" as string))
    return { ok: false, reply: headerOnly(msg, RCODE.REFUSED), why: `class ${q.class}` };
  return { ok: true, id: packet.id ?? 0, name: q.name, type: String(q.type), packet };
}

/** An answer to a decoded query carrying only its question and `rcode` (REFUSED, SERVFAIL, …). */
export function errorReply(query: dnsPacket.DecodedPacket, rcode: number): Buffer {
  return dnsPacket.encode({
    id: query.id ?? 0,
    type: "response",
    flags: ((query.flags ?? 0) & RD) | RA | rcode,
    questions: query.questions ?? [],
  });
}

export interface LearnedAddress {
  address: string;
  ttl: number;
}

export type AnswerCheck =
  | { ok: true; rcode: number; names: string[]; addresses: LearnedAddress[] }
  | { ok: false; why: string };

/**
 * What an upstream answer says about `qname`: its CNAME chain (qname first, lower-cased, no
 * trailing dot; chains are followed to the end and loops stop) and the A/AAAA records of any
 * name on it. An answer that does not decode, or answers another id, is not released.
 */
export function readAnswer(msg: Buffer, id: number, qname: string): AnswerCheck {
  let packet: dnsPacket.DecodedPacket;
  try {
    packet = dnsPacket.decode(msg);
  } catch (err) {
    return { ok: false, why: `undecodable answer: ${(err as Error).message}` };
  }
  if (packet.id !== id) return { ok: false, why: `answer id ${packet.id} for query ${id}` };
  const rcode = (packet.flags ?? 0) & 0x0f;
  const norm = (n: string) => n.toLowerCase().replace(/\.$/, "");
  const answers = packet.answers ?? [];
  const chain = [norm(qname)];
  const onChain = new Set(chain);
  for (let changed = true; changed; ) {
    changed = false;
    for (const a of answers) {
      if (a.type !== "CNAME" || typeof a.data !== "string" || !onChain.has(norm(a.name))) continue;
      const target = norm(a.data);
      if (onChain.has(target)) continue;
      onChain.add(target);
      chain.push(target);
      changed = true;
    }
  }
  const addresses: LearnedAddress[] = [];
  for (const a of answers) {
    if ((a.type !== "A" && a.type !== "AAAA") || typeof a.data !== "string" || !onChain.has(norm(a.name)))
      continue;
    addresses.push({ address: a.data, ttl: typeof a.ttl === "number" ? a.ttl : 0 });
  }
  return { ok: true, rcode, names: chain, addresses };
}
