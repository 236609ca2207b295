// The simulator's context: which lab and host it runs on, its output, and small file helpers.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { LabState, SimConfig } from "../types.js";

export const K8S_DEFAULT_VERSION = "1.36.3";

export interface Sim {
  host: string;
  labDir: string;
  cfg: SimConfig;
  /** The host's own directory in the lab state (outside the overlay). */
  hostDir: string;
  /** Shared cluster state (outside the overlays, seen by every host). */
  clusterDir: string;
  isRoot: boolean;
  out: (s: string | Uint8Array) => void;
  err: (s: string) => void;
  /** Read the rest of stdin (for prompts). */
  stdin: () => string;
  /** Read the rest of stdin as bytes (gpg). */
  stdinBytes: () => Buffer;
  /**
   * The command's own environment and stdio file descriptors [in, out, err]: a real child the tool runs
   * (curl, kubectl, gpg) inherits these. In a one-process-per-command simulator they are process.env and
   * [0, 1, 2]; in the resident simulator (resident.ts) the client's environment and its stdio, reopened.
   */
  env: Record<string, string | undefined>;
  stdio: [number, number, number];
  address: () => string;
  os: () => { id: string; family: "debian" | "rhel" };
}

export class SimExit extends Error {
  constructor(
    readonly code: number,
    readonly stderr = "",
  ) {
    super(stderr || `exit ${code}`);
  }
}

/** Print to stderr and stop with `code`. */
export function fail(code: number, message: string): never {
  throw new SimExit(code, message.endsWith("\n") ? message : `${message}\n`);
}

export function readJson<T>(file: string, fallback: T): T {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return fallback;
  }
}

export function writeJson(file: string, value: unknown, mode = 0o644): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode });
  renameSync(tmp, file);
}

export function writeFile(file: string, content: string | Buffer, mode = 0o644): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content, { mode });
}

/** Host-local simulator state lives in the host's overlay, like a real tool's database. */
export const SIM_VAR = "/var/lib/kubesim";

export function labState(sim: Sim): LabState | undefined {
  return readJson<LabState | undefined>(path.join(sim.labDir, "state.json"), undefined);
}

export function readOs(): { id: string; family: "debian" | "rhel" } {
  let text = "";
  try {
    text = readFileSync("/etc/os-release", "utf8");
  } catch {
    /* unknown */
  }
  const id = /^ID="?([^"\n]+)"?$/m.exec(text)?.[1] ?? "linux";
  const like = /^ID_LIKE="?([^"\n]+)"?$/m.exec(text)?.[1] ?? "";
  const family = /rhel|fedora|centos/.test(`${id} ${like}`) ? "rhel" : "debian";
  return { id, family };
}

/** Split `--flag=value` / `--flag value` options from positionals. Flags in `bool` take no value. */
export function parseArgs(args: string[], bool: string[] = []): { flags: Map<string, string[]>; pos: string[] } {
  const flags = new Map<string, string[]>();
  const pos: string[] = [];
  const add = (k: string, v: string) => flags.set(k, [...(flags.get(k) ?? []), v]);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      pos.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      if (eq > 0) add(a.slice(2, eq), a.slice(eq + 1));
      else if (bool.includes(a.slice(2)) || i + 1 >= args.length || args[i + 1]!.startsWith("-")) add(a.slice(2), "true");
      else add(a.slice(2), args[++i]!);
    } else if (/^-[a-zA-Z]$/.test(a)) {
      const k = a.slice(1);
      if (bool.includes(k) || i + 1 >= args.length || args[i + 1]!.startsWith("-")) add(k, "true");
      else add(k, args[++i]!);
    } else if (/^-[a-zA-Z]{2,}$/.test(a)) {
      for (const c of a.slice(1)) add(c, "true");
    } else pos.push(a);
  }
  return { flags, pos };
}

/**
 * etcdctl's and etcdutl's flags (Go cobra/pflag): `-w json`, `--flag=value`, `--flag value`; a flag in `bools`
 * takes no value; the last one given wins. Everything else is a positional.
 */
export function cobraFlags(args: string[], bools: readonly string[] = []): { flags: Map<string, string>; pos: string[] } {
  const flags = new Map<string, string>();
  const pos: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^--?([\w-]+)(?:=(.*))?$/.exec(a);
    if (!m) pos.push(a);
    else if (m[2] !== undefined) flags.set(m[1]!, m[2]);
    else if (bools.includes(m[1]!)) flags.set(m[1]!, "true");
    else flags.set(m[1]!, args[++i] ?? "");
  }
  return { flags, pos };
}

export function flag(flags: Map<string, string[]>, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = flags.get(n);
    if (v?.length) return v[v.length - 1];
  }
  return undefined;
}

/** Addresses a lab host may really talk to: loopback and the lab range 198.18.0.0/15. */
export function allowedAddress(ip: string): boolean {
  if (ip === "::1") return true;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return false;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a === 127 || (a === 198 && (b === 18 || b === 19));
}

/** Resolve a name the way a lab host can without DNS: IP literals and /etc/hosts only. */
export function resolveLocal(name: string): string | undefined {
  const host = name.replace(/^\[|\]$/g, "");
  if (/^[\d.]+$/.test(host) || host.includes(":")) return host;
  let text = "";
  try {
    text = readFileSync("/etc/hosts", "utf8");
  } catch {
    /* none */
  }
  for (const line of text.split("\n")) {
    const [ip, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
    if (ip && names.includes(host)) return ip;
  }
  return undefined;
}

/** Single-quote a word for sh (for the shims the simulator writes). */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
