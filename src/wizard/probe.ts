// Reaching a host while the wizard asks: the real SSH code (SshRunner) with a host key check that first
// shows an unknown key to a person. An unknown key is refused during the key exchange, before any
// credential is sent; when the person confirms its fingerprint it is appended to the known_hosts file
// the inventory will use, and the second connection verifies against that file (strict), so a host that
// swapped keys in between is refused. Without a person (scripts), accept-new: recorded and reported.
// Then the facts script reports OS, CPUs and memory, and `ip` the interface carrying the address.
import { readFile } from "node:fs/promises";
import { HostKeyError, KubesmithError } from "../errors.js";
import { factsScript, type HostFacts, parseFacts } from "../facts/gather.js";
import type { Inventory } from "../inventory/schema.js";
import { SshRunner } from "../ssh/connection.js";
import { addKnownHost, fingerprint, hostPattern, keyTypeOf, lookup, parseKnownHosts, verifyHostKey, type VerifyRequest } from "../ssh/knownhosts.js";
import { targetsFromInventory } from "../ssh/targets.js";
import { KUBERNETES } from "../versions.js";
import type { SshTarget } from "../ssh/types.js";
import type { HostAnswer } from "./answers.js";

/** A host key offered by a host (or its bastion) that the known_hosts file does not have yet. */
export interface OfferedKey {
  /** Who offered it: the host's name, or "bastion ADDRESS". */
  name: string;
  host: string;
  port: number;
  type: string;
  fingerprint: string;
  key: Buffer;
}

export interface RecordedKey extends Omit<OfferedKey, "key"> {
  /** known: already in the file; confirmed: a person said yes; added: recorded without asking (accept-new). */
  outcome: "known" | "confirmed" | "added";
}

export interface NetInterface {
  name: string;
  address: string;
  prefix: number;
}

export interface ProbeResult {
  facts: HostFacts;
  interfaces: NetInterface[];
  /** The interface carrying the address init connected to, when found. */
  iface?: NetInterface;
  keys: RecordedKey[];
}

export interface ProbeOptions {
  knownHostsFile: string;
  /** Ask a person about an unknown key; resolve true to trust and record it. Absent: accept-new. */
  confirmKey?: (k: OfferedKey) => Promise<boolean>;
  connectTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Thrown inside the handshake to refuse a key that a person must look at first. */
class PendingHostKey extends HostKeyError {
  constructor(readonly offered: OfferedKey) {
    super(offered.name, `host key ${offered.type} ${offered.fingerprint} of ${hostPattern(offered.host, offered.port)} is not confirmed yet`);
  }
}

/** The host key was not confirmed by the person. */
export class HostKeyRejected extends HostKeyError {}

/** The SshTarget for one answered host, built the way `up` builds it from the inventory. */
export function probeTarget(h: HostAnswer, o: { knownHostsFile: string; connectTimeoutMs?: number; env?: NodeJS.ProcessEnv }): SshTarget {
  const env = o.env ?? process.env;
  const ssh: NonNullable<Inventory["hosts"][number]["ssh"]> = {
    ...(h.identityFile ? { identityFile: h.identityFile } : {}),
    ...(h.agent !== undefined ? { agent: h.agent } : {}),
    ...(h.bastion ? { bastion: h.bastion } : {}),
  };
  const sudoPassword = h.sudoPasswordEnv ? env[h.sudoPasswordEnv] : undefined;
  const inv: Inventory = {
    cluster: { name: "probe", kubernetesVersion: KUBERNETES.default, podCIDR: "10.244.0.0/16", serviceCIDR: "10.96.0.0/12" },
    ssh: { knownHostsFile: o.knownHostsFile, connectRetries: 0, connectTimeout: `${o.connectTimeoutMs ?? 8000}ms` },
    hosts: [
      {
        name: h.name,
        address: h.address,
        user: h.user,
        port: h.port,
        roles: h.roles,
        ...(Object.keys(ssh).length ? { ssh } : {}),
        ...(sudoPassword !== undefined ? { sudo: { password: sudoPassword } } : {}),
      },
    ],
  };
  return targetsFromInventory(inv, { env })[0]!;
}

async function knownState(file: string, k: VerifyRequest): Promise<"known" | "unknown" | "conflict"> {
  let text = "";
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const { known, revoked } = lookup(parseKnownHosts(text), k.host, k.port);
  if (revoked.some((e) => e.key.equals(k.key))) return "conflict";
  if (known.some((e) => e.key.equals(k.key))) return "known";
  return known.length > 0 ? "conflict" : "unknown";
}

/** `ip -o -4 addr show` lines -> interfaces. */
export function parseInterfaces(out: string): NetInterface[] {
  const res: NetInterface[] = [];
  for (const line of out.split("\n")) {
    const m = /^\d+:\s+([^\s@:]+)[^\n]*?\binet\s+(\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(line);
    if (m && m[1] !== "lo") res.push({ name: m[1]!, address: m[2]!, prefix: Number(m[3]) });
  }
  return res;
}

/**
 * Connect to one host, settle its host key(s) (asking through confirmKey when given), gather facts.
 * Throws the SSH layer's typed errors (UnreachableError, AuthError, HostKeyError, HostKeyRejected…).
 */
export async function probeHost(h: HostAnswer, opts: ProbeOptions): Promise<ProbeResult> {
  const target = probeTarget(h, opts);
  const keys: RecordedKey[] = [];
  const file = target.knownHostsFile;
  const record = (req: VerifyRequest, outcome: RecordedKey["outcome"]) => {
    const k = { name: req.name, host: req.host, port: req.port, type: keyTypeOf(req.key), fingerprint: fingerprint(req.key) };
    if (!keys.some((x) => x.host === k.host && x.port === k.port)) keys.push({ ...k, outcome });
  };
  const verify = async (req: VerifyRequest): Promise<unknown> => {
    if (!opts.confirmKey) {
      const outcome = await verifyHostKey({ ...req, policy: "accept-new", knownHostsFile: file });
      record(req, outcome === "added" ? "added" : "known");
      return outcome;
    }
    const state = await knownState(file, req);
    if (state === "unknown") {
      throw new PendingHostKey({
        name: req.name,
        host: req.host,
        port: req.port,
        type: keyTypeOf(req.key),
        fingerprint: fingerprint(req.key),
        key: req.key,
      });
    }
    // known: fine; conflict (changed or revoked): the real check says exactly what is wrong.
    const outcome = await verifyHostKey({ ...req, policy: "strict", knownHostsFile: file });
    if (!keys.some((x) => x.host === req.host && x.port === req.port)) record(req, "known");
    return outcome;
  };

  // A host and its bastion may each offer an unknown key: at most one question per connection attempt.
  for (let attempt = 0; ; attempt++) {
    const runner = new SshRunner(target, { verifyHostKey: verify, retryBaseMs: 200 });
    try {
      await runner.connect();
      const facts = parseFacts((await runner.exec(factsScript(), { sudo: true, label: "gather facts" })).stdout);
      const ip = await runner.exec("ip -o -4 addr show 2>/dev/null || true", { label: "list addresses", allowFailure: true });
      const interfaces = parseInterfaces(ip.stdout);
      const iface = interfaces.find((i) => i.address === h.address);
      return { facts, interfaces, ...(iface ? { iface } : {}), keys };
    } catch (e) {
      const pending = e instanceof PendingHostKey ? e : e instanceof KubesmithError && e.cause instanceof PendingHostKey ? e.cause : undefined;
      if (!pending || attempt >= 3 || !opts.confirmKey) throw e;
      const k = pending.offered;
      if (!(await opts.confirmKey(k))) {
        throw new HostKeyRejected(k.name, `host key ${k.type} ${k.fingerprint} of ${hostPattern(k.host, k.port)} was not confirmed; nothing was recorded`, {
          hint: "check the fingerprint on the host with: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub",
        });
      }
      await addKnownHost(file, k.host, k.port, k.key, `kubesmith:${k.name} confirmed ${new Date().toISOString()}`);
      keys.push({ name: k.name, host: k.host, port: k.port, type: k.type, fingerprint: k.fingerprint, outcome: "confirmed" });
    } finally {
      await runner.close();
    }
  }
}

/** "Debian GNU/Linux 12 (bookworm), x86_64, 2 CPUs, 3.8 GiB memory" */
export function describeFacts(f: HostFacts): string {
  const mem = f.memoryMiB >= 1024 ? `${(f.memoryMiB / 1024).toFixed(1)} GiB` : `${f.memoryMiB} MiB`;
  return `${f.osPretty !== "unknown" ? f.osPretty : `${f.osId} ${f.osVersion}`}, ${f.arch}, ${f.cpus} CPU${f.cpus === 1 ? "" : "s"}, ${mem} memory`;
}
