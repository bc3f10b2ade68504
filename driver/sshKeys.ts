/**
 * SSH key material in OpenSSH's formats, from Node's own crypto: the job's ed25519 key pair (the private key in the
 * unencrypted `openssh-key-v1` container that the ssh client reads), host key lines and their fingerprints.
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes } from "node:crypto";

const ED25519 = "ssh-ed25519";

/** An SSH wire-format string: a 32-bit big-endian length, then the bytes. */
function sshString(value: Buffer | string): Buffer {
  const bytes = typeof value === "string" ? Buffer.from(value) : value;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function uint32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

/** The private-key section of `openssh-key-v1`, padded to the 8-byte block size of the cipher "none". */
function privateSection(publicKey: Buffer, seed: Buffer, comment: string): Buffer {
  const check = randomBytes(4);
  const body = Buffer.concat([
    check,
    check,
    sshString(ED25519),
    sshString(publicKey),
    sshString(Buffer.concat([seed, publicKey])),
    sshString(comment),
  ]);
  const padding = Buffer.from(Array.from({ length: (8 - (body.length % 8)) % 8 }, (_, i) => i + 1));
  return Buffer.concat([body, padding]);
}

function armor(blob: Buffer): string {
  const lines = blob.toString("base64").match(/.{1,70}/g) ?? [];
  return ["-----BEGIN OPENSSH PRIVATE KEY-----", ...lines, "-----END OPENSSH PRIVATE KEY-----", ""].join("\n");
}

/** PKCS#8 DER of an ed25519 private key, up to its 32-byte seed (RFC 8410). */
const PKCS8_ED25519_SEED_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/**
 * A fresh ed25519 key pair: the private key as OpenSSH writes it, the public key as an authorized_keys line. The
 * seed is 32 random bytes, as ed25519 defines it; Node.js derives the public key. (Not generateKeyPairSync: on
 * Node.js 20, a garbage collection while its key is exported can deadlock the process.)
 */
export function generateEd25519KeyPair(comment: string): { privateKey: string; publicKey: string } {
  const seed = randomBytes(32);
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_SEED_PREFIX, seed]), format: "der", type: "pkcs8" });
  const spki = createPublicKey(key).export({ format: "der", type: "spki" });
  const publicKey = spki.subarray(spki.length - 32);
  const publicBlob = Buffer.concat([sshString(ED25519), sshString(publicKey)]);
  const container = Buffer.concat([
    Buffer.from("openssh-key-v1\0"),
    sshString("none"),
    sshString("none"),
    sshString(""),
    uint32(1),
    sshString(publicBlob),
    sshString(privateSection(publicKey, seed, comment)),
  ]);
  return { privateKey: armor(container), publicKey: `${ED25519} ${publicBlob.toString("base64")} ${comment}` };
}

/** SHA256 fingerprint of a host key ("<algorithm> <base64>") in OpenSSH's notation, for the job log. */
export function fingerprint(hostKey: string): string {
  const blob = Buffer.from(hostKey.split(" ")[1] ?? "", "base64");
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}
