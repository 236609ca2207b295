// OpenSSH known_hosts: parse, look up, verify a presented host key, append under accept-new.
// Supports plain patterns (host, [host]:port, comma lists, * ? wildcards, !negation), hashed entries
// (|1|salt|hash), several keys per host, comments, and the @revoked marker (@cert-authority lines
// are ignored: kubesmith does not do host certificates).
import { createHash, createHmac } from "node:crypto";
import { mkdir, readFile, appendFile, chmod, rename, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { HostKeyChangedError, HostKeyError } from "../errors.js";
import type { HostKeyPolicy } from "./types.js";

export interface KnownHostEntry {
  marker?: "revoked" | "cert-authority";
  /** Comma-separated patterns as written, or a hashed |1|salt|hash entry. */
  hosts: string;
  keyType: string;
  /** The raw SSH public key blob. */
  key: Buffer;
  comment?: string;
  line: number;
}

/** The name OpenSSH writes for a host: `host` on port 22, `[host]:port` otherwise. */
export function hostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** ssh-keygen -l style fingerprint: SHA256:base64 without padding. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/** The key type stored at the start of an SSH public key blob (string type, then key data). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) throw new Error("host key blob too short");
  const len = key.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > key.length) throw new Error("host key blob has no valid type");
  return key.subarray(4, 4 + len).toString("ascii");
}

/** Parse the text of a known_hosts file. Malformed lines are skipped, like OpenSSH does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry["marker"];
    if (fields[0]?.startsWith("@")) {
      const m = fields.shift();
      if (m === "@revoked") marker = "revoked";
      else if (m === "@cert-authority") marker = "cert-authority";
      else continue;
    }
    const [hosts, keyType, b64, ...rest] = fields;
    if (!hosts || !keyType || !b64) continue;
    const key = Buffer.from(b64, "base64");
    if (key.length < 8) continue;
    try {
      if (keyTypeOf(key) !== keyType) continue;
    } catch {
      continue;
    }
    const entry: KnownHostEntry = { hosts, keyType, key, line: i + 1 };
    if (marker) entry.marker = marker;
    if (rest.length) entry.comment = rest.join(" ");
    out.push(entry);
  }
  return out;
}

function globMatch(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern.toLowerCase() === name.toLowerCase();
  const re = pattern
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${re}$`).test(name.toLowerCase());
}

/** Does the entry's host field match `name` (already in host / [host]:port form)? */
export function entryMatches(hostsField: string, name: string): boolean {
  if (hostsField.startsWith("|1|")) {
    const [, , salt, hash] = hostsField.split("|");
    if (!salt || !hash) return false;
    const mac = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64");
    return mac === hash;
  }
  let matched = false;
  for (const p of hostsField.split(",")) {
    if (p.startsWith("!")) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) {
      matched = true;
    }
  }
  return matched;
}

/** Entries (without markers) that apply to host:port, and revoked keys. */
export function lookup(entries: KnownHostEntry[], host: string, port: number) {
  const name = hostPattern(host, port);
  const known: KnownHostEntry[] = [];
  const revoked: KnownHostEntry[] = [];
  for (const e of entries) {
    if (e.marker === "revoked") {
      // @revoked applies to the key wherever it appears.
      if (entryMatches(e.hosts, name) || e.hosts === "*") revoked.push(e);
      continue;
    }
    if (e.marker) continue;
    if (entryMatches(e.hosts, name)) known.push(e);
  }
  return { known, revoked };
}

/** Known key types for a host, so the client can ask the server for those first (as OpenSSH does). */
export async function knownKeyTypes(file: string, host: string, port: number): Promise<string[]> {
  const { known } = lookup(await readEntries(file), host, port);
  return [...new Set(known.map((e) => e.keyType))];
}

async function readEntries(file: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(file, "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}

/** One line for a known_hosts file. */
export function formatEntry(host: string, port: number, key: Buffer, comment?: string): string {
  const c = comment ? ` ${comment.replace(/[\r\n]+/g, " ")}` : "";
  return `${hostPattern(host, port)} ${keyTypeOf(key)} ${key.toString("base64")}${c}\n`;
}

// Appends from concurrent connections to the same file are serialised (and re-checked) here.
const fileLocks = new Map<string, Promise<unknown>>();
function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const prev = fileLocks.get(file) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const settled = next.catch(() => undefined);
  fileLocks.set(file, settled);
  void settled.then(() => {
    if (fileLocks.get(file) === settled) fileLocks.delete(file);
  });
  return next;
}

/** Append a key for host:port (creating the file 0600 and its directory 0700), unless already there. */
export async function addKnownHost(file: string, host: string, port: number, key: Buffer, comment?: string): Promise<void> {
  await withFileLock(file, async () => {
    const { known } = lookup(await readEntries(file), host, port);
    if (known.some((e) => e.key.equals(key))) return;
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await appendFile(file, formatEntry(host, port, key, comment), { mode: 0o600 });
    await chmod(file, 0o600).catch(() => undefined);
  });
}

export interface VerifyRequest {
  /** Inventory name, for messages. */
  name: string;
  host: string;
  port: number;
  key: Buffer;
  policy: HostKeyPolicy;
  knownHostsFile: string;
  /** The inventory, when known: the changed-key hint names `kubesmith hostkeys forget -i FILE NAME`. */
  inventoryFile?: string;
  /** Called for the `off` policy's warning. */
  onWarning?: (host: string, msg: string) => void;
  /** Hosts already warned about under `off` (so the warning is given once per host). */
  warned?: Set<string>;
}

export type VerifyOutcome = "known" | "added" | "unchecked";

const defaultWarned = new Set<string>();

/**
 * Decide whether a presented host key is acceptable. Resolves with what happened, or throws
 * HostKeyError. A changed key (host known, presented key not among its keys) is refused under every
 * policy; a revoked key too.
 */
export async function verifyHostKey(req: VerifyRequest): Promise<VerifyOutcome> {
  const { name, host, port, key, policy, knownHostsFile } = req;
  const type = keyTypeOf(key);
  const fp = fingerprint(key);
  const where = hostPattern(host, port);
  const { known, revoked } = lookup(await readEntries(knownHostsFile), host, port);
  if (revoked.some((e) => e.key.equals(key))) {
    throw new HostKeyError(name, `host key ${type} ${fp} of ${where} is marked @revoked in ${knownHostsFile}; refusing to connect`);
  }
  if (known.some((e) => e.key.equals(key))) return "known";
  if (known.length > 0) {
    const sameType = known.filter((e) => e.keyType === type);
    const old = (sameType.length ? sameType : known).map((e) => `${e.keyType} ${fingerprint(e.key)} (line ${e.line})`);
    throw new HostKeyChangedError(
      name,
      `HOST KEY CHANGED for ${where}: known_hosts ${knownHostsFile} has ${old.join(", ")} but the host presented ${type} ${fp}; refusing to connect (possible man-in-the-middle)`,
      {
        hint: `if ${name} was really reinstalled, forget its old key with: kubesmith hostkeys forget ${req.inventoryFile ? `-i ${req.inventoryFile} ` : ""}${name}`,
      },
    );
  }
  switch (policy) {
    case "strict":
      throw new HostKeyError(name, `host key of ${where} (${type} ${fp}) is not in ${knownHostsFile} and hostKeyPolicy is strict`, {
        hint: `run once with hostKeyPolicy accept-new, or add it with: ssh-keyscan -p ${port} ${host} >> ${knownHostsFile}`,
      });
    case "accept-new":
      await addKnownHost(knownHostsFile, host, port, key, `kubesmith:${name} added ${new Date().toISOString()}`);
      return "added";
    case "off": {
      const warned = req.warned ?? defaultWarned;
      if (!warned.has(where)) {
        warned.add(where);
        const msg = `WARNING: host key checking is OFF: accepting ${type} ${fp} from ${where} without verification; anyone on the path can impersonate this host`;
        if (req.onWarning) req.onWarning(name, msg);
        else process.emitWarning(`${name}: ${msg}`);
      }
      return "unchecked";
    }
  }
}

/**
 * Remove every entry for these hosts (each `host` / `[host]:port` as hostPattern writes them; hashed entries
 * too), as `ssh-keygen -R` does: the old file is kept as FILE.old, the new one replaces it atomically with
 * the same mode. Returns the number of lines removed (0: the file is not touched).
 */
export async function forgetKnownHosts(file: string, hosts: { host: string; port: number }[]): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw e;
  }
  const names = hosts.map((h) => hostPattern(h.host, h.port));
  const drop = new Set(parseKnownHosts(text).filter((e) => !e.marker && names.some((n) => entryMatches(e.hosts, n))).map((e) => e.line));
  if (!drop.size) return 0;
  const kept = text.split(/\r?\n/).filter((_, i) => !drop.has(i + 1));
  const mode = (await stat(file)).mode & 0o777;
  await writeFile(`${file}.old`, text, { mode });
  const tmp = `${file}.kubesmith-tmp`;
  await writeFile(tmp, kept.join("\n"), { mode });
  await rename(tmp, file);
  return drop.size;
}
