// Password and token hashing on node:crypto only, so the control plane has no native deps.
import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { TooManyRequestsError } from "./too-many-requests";

// scrypt N=2^15 keeps a login around 50-100 ms: slow for guessing, fine for people.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const KEYLEN = 32;

/**
 * At most `concurrency` scrypt computations at once, at most `queue` waiting: each one takes a
 * core for ~50-100 ms, so a sign-in flood would otherwise fill libuv's thread pool and both cores
 * and starve every other request. Beyond the queue the caller is told to come back (429) at once.
 */
class HashingSlots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(
    public concurrency: number,
    public queue: number,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queue) {
        throw new TooManyRequestsError(1000, "the server is busy checking passwords; try again in a moment");
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next waiter, so `running` never drops below what is in use.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  get stats() {
    return { running: this.running, waiting: this.waiting.length };
  }
}

function envInt(name: string, fallback: number, min: number): number {
  const v = Number(process.env[name]);
  return process.env[name] !== undefined && Number.isInteger(v) && v >= min ? v : fallback;
}

/** Two at once suits the 2-core machines this runs on; raise it with the core count. */
export const passwordHashing = new HashingSlots(
  envInt("MERIDIAN_PASSWORD_HASH_CONCURRENCY", 2, 1),
  envInt("MERIDIAN_PASSWORD_HASH_QUEUE", 16, 0),
);

function scryptAsync(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return passwordHashing.run(
    () =>
      new Promise((resolve, reject) =>
        scrypt(password, salt, KEYLEN, { N: n, r, p, maxmem: SCRYPT.maxmem }, (err, key) =>
          err ? reject(err) : resolve(key),
        ),
      ),
  );
}

/** `scrypt$N$r$p$salt$hash` (base64url), so parameters can be raised later without breaking old hashes. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p);
  return ["scrypt", SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString("base64url"), key.toString("base64url")].join(
    "$",
  );
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, "base64url");
  const key = await scryptAsync(password, Buffer.from(salt, "base64url"), Number(n), Number(r), Number(p));
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A password that has to be verified even when the user does not exist, so timing does not tell. */
export const DUMMY_PASSWORD_HASH =
  "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/**
 * Bearer secrets carry their kind in a prefix (`mrd_tok_`, `mrd_node_`, …) so the context can
 * look in the right table, and secret scanners can recognise leaked ones.
 */
export type SecretKind = "ses" | "tok" | "node" | "join";

export function newSecret(kind: SecretKind): { secret: string; hash: string; prefix: string } {
  const secret = `mrd_${kind}_${randomBytes(24).toString("base64url")}`;
  return { secret, hash: hashSecret(secret), prefix: secret.slice(0, kind.length + 9) };
}

/** Secrets are 192-bit random, so a fast hash is enough (no dictionary to guard against). */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export function secretKind(secret: string): SecretKind | null {
  const m = /^mrd_(ses|tok|node|join)_/.exec(secret);
  return m ? (m[1] as SecretKind) : null;
}

export function randomPassword(): string {
  return randomBytes(18).toString("base64url");
}
