/**
 * SSH key material in OpenSSH's formats, from Node's own crypto: the job's ed25519 key pair (the private key in the
 * unencrypted `openssh-key-v1` container that the ssh client reads), host key lines and their fingerprints.
 */
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";

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

/** A fresh ed25519 key pair: the private key as OpenSSH writes it, the public key as an authorized_keys line. */
export function generateEd25519KeyPair(comment: string): { privateKey: string; publicKey: string } {
  const pair = generateKeyPairSync("ed25519");
  const publicKey = Buffer.from(pair.publicKey.export({ format: "jwk" }).x ?? "", "base64url");
  const seed = Buffer.from(pair.privateKey.export({ format: "jwk" }).d ?? "", "base64url");
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
