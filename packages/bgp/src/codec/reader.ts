import { type ErrorAction, TruncatedError } from "./errors.js";

/**
 * Bounds-checked cursor. Every read names the field it was reading, so a truncated message says
 * which field ran out instead of a RangeError from Buffer deep inside a socket handler.
 */
export class Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
    /** What a truncation inside this region means (RFC 7606 differs per region). */
    readonly onShort: { action: ErrorAction; code: number; subcode: number } = {
      action: "session-reset",
      code: 1,
      subcode: 2,
    },
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, field: string): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new TruncatedError(
        `truncated ${field}: need ${n} bytes at offset ${this.pos}, ${this.end - this.pos} left`,
        this.onShort.action,
        this.onShort.code,
        this.onShort.subcode,
      );
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  bytes(n: number, field: string): Buffer {
    this.need(n, field);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** A sub-reader over the next n bytes, advancing this one past them. */
  sub(n: number, field: string, onShort = this.onShort): Reader {
    if (this.pos + n > this.end) {
      // A declared length that overruns its container is judged by the rules of what it contains.
      throw new TruncatedError(
        `${field} length ${n} overruns its container by ${this.pos + n - this.end} bytes`,
        onShort.action,
        onShort.code,
        onShort.subcode,
      );
    }
    const r = new Reader(this.buf, this.pos, this.pos + n, onShort);
    this.pos += n;
    return r;
  }
}
