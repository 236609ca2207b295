// Deterministic stand-ins for the package signing keys the lab hosts download (pkgs.k8s.io, Docker).
// They are structurally OpenPGP (an RSA public-key packet and a user ID packet, ASCII-armored with a
// real CRC-24) so that gpg --dearmor, keyring files and apt's signed-by checks behave as with the real
// keys; the key material itself is made up (derived from a hash of the name) and signs nothing.
import { createHash } from "node:crypto";

export interface SimKey {
  /** Short id of the real key, as apt prints it in NO_PUBKEY (16 hex digits) and dnf as 0x… (8). */
  keyId: string;
  userId: string;
}

export const KEYS = {
  kubernetes: { keyId: "234654DA9A296436", userId: "isv:kubernetes OBS Project <isv:kubernetes@build.opensuse.org>" },
  docker: { keyId: "8D81803C0EBFCD88", userId: "Docker Release (CE deb) <docker@docker.com>" },
  dockerRpm: { keyId: "C52FEB6B621E9F35", userId: "Docker Release (CE rpm) <docker@docker.com>" },
} as const satisfies Record<string, SimKey>;
export type KeyName = keyof typeof KEYS;

/** `n` pseudo-random bytes, a pure function of `seed`. */
function stream(seed: string, n: number): Buffer {
  const out: Buffer[] = [];
  let have = 0;
  for (let i = 0; have < n; i++) {
    const b = createHash("sha256").update(`${seed}/${i}`).digest();
    out.push(b);
    have += b.length;
  }
  return Buffer.concat(out).subarray(0, n);
}

/** Binary OpenPGP: public-key packet (v4, RSA 2048) followed by a user ID packet. */
export function keyBinary(name: KeyName): Buffer {
  const k: SimKey = KEYS[name];
  const modulus = stream(`kubesim-key-${name}`, 256);
  modulus[0] = modulus[0]! | 0x80; // a full 2048-bit number
  const body = Buffer.concat([
    Buffer.from([0x04]), // version 4
    Buffer.from([0x5f, 0x2b, 0x8a, 0x00]), // creation time (fixed)
    Buffer.from([0x01]), // RSA
    Buffer.from([0x08, 0x00]), // MPI n: 2048 bits
    modulus,
    Buffer.from([0x00, 0x11, 0x01, 0x00, 0x01]), // MPI e = 65537 (17 bits)
  ]);
  const uid = Buffer.from(k.userId, "utf8");
  return Buffer.concat([
    Buffer.from([0x99, body.length >> 8, body.length & 0xff]), // old format, tag 6, 2-byte length
    body,
    Buffer.from([0xb4, uid.length]), // old format, tag 13, 1-byte length
    uid,
  ]);
}

/** CRC-24 of RFC 4880 section 6.1. */
export function crc24(data: Uint8Array): number {
  let crc = 0xb704ce;
  for (const byte of data) {
    crc ^= byte << 16;
    for (let i = 0; i < 8; i++) {
      crc <<= 1;
      if (crc & 0x1000000) crc ^= 0x1864cfb;
    }
  }
  return crc & 0xffffff;
}

export function armor(data: Buffer, type = "PGP PUBLIC KEY BLOCK"): string {
  const b64 = data.toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  const crc = crc24(data);
  const crcB64 = Buffer.from([crc >> 16, (crc >> 8) & 0xff, crc & 0xff]).toString("base64");
  return `-----BEGIN ${type}-----\n\n${lines.join("\n")}\n=${crcB64}\n-----END ${type}-----\n`;
}

export function keyArmored(name: KeyName): string {
  return armor(keyBinary(name));
}

/**
 * Decode every ASCII-armored block in `text` (headers skipped, CRC checked when present). Returns
 * undefined when there is none or one is damaged, the cases where gpg says "no valid OpenPGP data found".
 */
export function dearmor(text: string): Buffer | undefined {
  const re = /-----BEGIN PGP ([A-Z ]+)-----\r?\n([\s\S]*?)-----END PGP \1-----/g;
  const parts: Buffer[] = [];
  for (const m of text.matchAll(re)) {
    const lines = m[2]!.split(/\r?\n/);
    // armor headers ("Version: …") end at the first blank line, if there are any
    const blank = lines.findIndex((l) => l.trim() === "");
    const hasHeaders = blank >= 0 && lines.slice(0, blank).every((l) => /^[A-Za-z-]+: /.test(l));
    const body = (hasHeaders ? lines.slice(blank + 1) : lines).map((l) => l.trim()).filter(Boolean);
    let crcLine: string | undefined;
    if (body.length && body[body.length - 1]!.startsWith("=")) crcLine = body.pop()!.slice(1);
    const joined = body.join("");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(joined) || joined.length === 0) return undefined;
    const data = Buffer.from(joined, "base64");
    if (crcLine !== undefined) {
      const want = Buffer.from(crcLine, "base64");
      const crc = crc24(data);
      if (want.length !== 3 || want[0] !== crc >> 16 || want[1] !== ((crc >> 8) & 0xff) || want[2] !== (crc & 0xff)) return undefined;
    }
    parts.push(data);
  }
  return parts.length ? Buffer.concat(parts) : undefined;
}

/** Which of the simulated keys a keyring file's contents hold (binary, or armored as apt accepts in .asc files). */
export function keysIn(content: Buffer, armoredAllowed: boolean): KeyName[] {
  let bin: Buffer | undefined = content;
  if (armoredAllowed && content.subarray(0, 40).toString("latin1").includes("-----BEGIN PGP")) bin = dearmor(content.toString("latin1"));
  if (!bin) return [];
  return (Object.keys(KEYS) as KeyName[]).filter((k) => bin.includes(keyBinary(k)));
}
