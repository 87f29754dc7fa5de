// Encryption for secrets we must be able to hand back to the datapath (BGP MD5 passwords):
// AES-256-GCM with a key from MERIDIAN_SECRET_KEY, or a key file generated on first use.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");

let cachedKey: Buffer | null = null;

function keyFromString(s: string): Buffer {
  const trimmed = s.trim();
  if (/^[0-9a-f]{64}$/i.test(trimmed)) return Buffer.from(trimmed, "hex");
  const b64 = Buffer.from(trimmed, "base64");
  if (b64.length === 32) return b64;
  // Any other passphrase is stretched to 32 bytes; operators should prefer 32 random bytes.
  return createHash("sha256").update(trimmed).digest();
}

export function secretKeyFile(): string {
  return process.env.MERIDIAN_SECRET_KEY_FILE ?? path.join(repoRoot, ".meridian", "secret.key");
}

function loadKey(): Buffer {
  if (cachedKey) return cachedKey;
  const env = process.env.MERIDIAN_SECRET_KEY;
  if (env) {
    cachedKey = keyFromString(env);
    return cachedKey;
  }
  const file = secretKeyFile();
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    // `wx` so two replicas starting together cannot each write a different key.
    try {
      writeFileSync(file, randomBytes(32).toString("hex"), { flag: "wx", mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    chmodSync(file, 0o600);
  }
  cachedKey = keyFromString(readFileSync(file, "utf8"));
  return cachedKey;
}

/** `v1.<iv>.<tag>.<ciphertext>` in base64url. */
export function encryptSecret(plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", loadKey(), iv);
  const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return [
    "v1",
    iv.toString("base64url"),
    cipher.getAuthTag().toString("base64url"),
    ct.toString("base64url"),
  ].join(".");
}

/**
 * A short tag that changes every time a secret is encrypted anew: a hash of the box's random IV,
 * so it reveals nothing about the secret (nor the IV) and needs no extra column.
 */
export function secretVersion(box: string): string {
  const iv = box.split(".")[1] ?? box;
  return createHash("sha256").update("meridian secret version\0").update(iv).digest("hex").slice(0, 16);
}

export function decryptSecret(box: string): string {
  const [v, iv, tag, ct] = box.split(".");
  if (v !== "v1" || !iv || !tag || ct === undefined) throw new Error("secret box: unknown format");
  const decipher = createDecipheriv("aes-256-gcm", loadKey(), Buffer.from(iv, "base64url"));
  decipher.setAuthTag(Buffer.from(tag, "base64url"));
  return Buffer.concat([decipher.update(Buffer.from(ct, "base64url")), decipher.final()]).toString("utf8");
}
