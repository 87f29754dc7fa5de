import { expect } from "vitest";
import {
  type CodecContext,
  DEFAULT_CONTEXT,
  decode,
  encode,
  encodingLength,
  type Message,
} from "../../src/index.js";

/**
 * dns-packet style round trip: encode, decode, re-encode; also at an offset inside a larger buffer.
 * The decoded message must equal the one encoded (not only re-encode to the same bytes, which a
 * bug shared by encoder and decoder would pass); what the decoder adds about RFC 7606 outcomes
 * (`treatAsWithdraw`, `errors`) is left out of that comparison and returned.
 */
export function roundTrip(m: Message, ctx: CodecContext = DEFAULT_CONTEXT): Message {
  const bytes = encode(m, ctx);
  expect(bytes.length).toBe(encodingLength(m, ctx));
  const back = decode(bytes, 0, ctx);
  expect(withoutDecodeNotes(back)).toEqual(m);
  expect(encode(back, ctx)).toEqual(bytes);
  const big = Buffer.alloc(bytes.length + 13, 0xab);
  encode(m, ctx, big, 7);
  expect(big.subarray(7, 7 + bytes.length)).toEqual(bytes);
  expect(decode(big.subarray(0, 7 + bytes.length), 7, ctx)).toEqual(back);
  return back;
}

function withoutDecodeNotes(m: Message): Message {
  if (m.type !== "update") return m;
  const { treatAsWithdraw: _t, errors: _e, ...rest } = m;
  return rest;
}

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ""), "hex");
}

export const MARKER = "ffffffffffffffffffffffffffffffff";

/** Wraps an UPDATE body (withdrawn + attrs + nlri) in a header. */
export function updateBytes(withdrawn: Buffer, attrs: Buffer, nlri: Buffer): Buffer {
  const len = 19 + 4 + withdrawn.length + attrs.length + nlri.length;
  const b = Buffer.alloc(len);
  b.fill(0xff, 0, 16);
  b.writeUInt16BE(len, 16);
  b[18] = 2;
  b.writeUInt16BE(withdrawn.length, 19);
  withdrawn.copy(b, 21);
  b.writeUInt16BE(attrs.length, 21 + withdrawn.length);
  attrs.copy(b, 23 + withdrawn.length);
  nlri.copy(b, 23 + withdrawn.length + attrs.length);
  return b;
}
