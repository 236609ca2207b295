// Is a VIP free? The inventory rules only know the addresses in the inventory; a machine outside it may
// already use the address. init asks the network itself, from a host (the first control plane for the
// control-plane VIP, the first frontend for the edge VIP), on the interface that holds that host's
// address in the VIP's subnet:
// - iputils arping in duplicate address detection mode: `arping -D -c 2 -w 3 -I IFACE VIP`. arping(8)
//   (iputils, https://man7.org/linux/man-pages/man8/arping.8.html): "-D Duplicate address detection mode
//   (DAD). See RFC2131, 4.4.1. Returns 0, if DAD succeeded i.e. no replies are received"; a reply prints
//   "Unicast reply from VIP [MAC]" and exits 1; a bad interface exits 2. The sender address is 0.0.0.0 in
//   DAD mode, so no neighbour learns anything from the probe. Thomas Habets' arping (Debian's `arping`
//   package) has other options (-D there means "display answers as exclamation points"), so arping is used
//   only when `arping -V` says "iputils".
// - otherwise (no iputils arping; minimal hosts often lack ping too) the kernel resolves the address: the
//   neighbour entry is flushed, a TCP connection attempt (bash's /dev/tcp, 3 s; ping when there is no bash)
//   makes the kernel send ARP requests, and `ip neigh show to VIP dev IFACE` then has an lladdr when someone answered (REACHABLE) and
//   none when nobody did (INCOMPLETE/FAILED). ip-neighbour(8).
// A host does not answer DAD for its own address, so the VIP is also compared with the addresses the
// probed hosts reported (`ip -o -4 addr`).
import { KubesmithError, PreflightError } from "../errors.js";
import { isIPv4, networkOf } from "../inventory/net.js";
import { SshRunner } from "../ssh/connection.js";
import { quote as shq } from "../ssh/quote.js";
import type { HostAnswer } from "./answers.js";
import { type NetInterface, probeTarget } from "./probe.js";

export interface VipProbe {
  method: "arping" | "neigh";
  /** Someone answered for the address. */
  taken: boolean;
  /** Who answered (lower-case MAC), when taken. */
  mac?: string;
}

/** The interface holding an address in the VIP's subnet (the longest matching prefix). */
export function interfaceForVip(vip: string, interfaces: NetInterface[]): NetInterface | undefined {
  if (!isIPv4(vip)) return undefined;
  return interfaces
    .filter((i) => isIPv4(i.address) && networkOf(i.address, i.prefix).base === networkOf(vip, i.prefix).base)
    .sort((a, b) => b.prefix - a.prefix)[0];
}

const MARK = "kubesmith-vip-check";

/** The shell run on the host (as root): prints `MARK method=…`, the tool's output, then `MARK exit=N`. */
export function vipCheckScript(vip: string, iface: string): string {
  const v = shq(vip);
  const i = shq(iface);
  return [
    `if command -v arping >/dev/null 2>&1 && arping -V 2>&1 | grep -q iputils; then`,
    `  echo '${MARK} method=arping'`,
    `  arping -D -c 2 -w 3 -I ${i} ${v} 2>&1; echo "${MARK} exit=$?"`,
    `else`,
    `  echo '${MARK} method=neigh'`,
    `  ip neigh flush to ${v} dev ${i} >/dev/null 2>&1`,
    `  if command -v bash >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then`,
    `    timeout 3 bash -c 'exec 3<>/dev/tcp/'${v}'/22' >/dev/null 2>&1`,
    `  elif command -v ping >/dev/null 2>&1; then`,
    `    ping -c 2 -W 1 -I ${i} ${v} >/dev/null 2>&1`,
    `  else`,
    `    echo '${MARK} no-trigger'`,
    `  fi`,
    `  ip neigh show to ${v} dev ${i} 2>&1; echo "${MARK} exit=$?"`,
    `fi`,
  ].join("\n");
}

const MAC = /([0-9a-f]{2}(?::[0-9a-f]{2}){5})/i;

/** The script's output -> free or taken (and by whom); an Error when the probe itself failed. */
export function parseVipCheck(stdout: string, vip: string): VipProbe | Error {
  const method = new RegExp(`^${MARK} method=(arping|neigh)$`, "m").exec(stdout)?.[1] as VipProbe["method"] | undefined;
  const exit = new RegExp(`^${MARK} exit=(\\d+)$`, "m").exec(stdout)?.[1];
  const body = stdout
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith(MARK))
    .map((l) => l.trim());
  if (!method || exit === undefined) return new Error(`unexpected output: ${body.slice(-1)[0] ?? "(none)"}`);
  if (method === "arping") {
    // "Unicast reply from 198.18.1.11 [8A:F9:69:30:09:8D]  0.561ms"
    const reply = body.find((l) => /^Unicast reply from /.test(l) && l.includes(`${vip} [`));
    if (exit === "1" && reply) return { method, taken: true, mac: MAC.exec(reply)![1]!.toLowerCase() };
    if (exit === "0") return { method, taken: false };
    return new Error(`arping exited ${exit}: ${body.filter((l) => !/^(ARPING|Sent|Received) /.test(l)).slice(-1)[0] ?? "no reason given"}`);
  }
  if (new RegExp(`^${MARK} no-trigger$`, "m").test(stdout)) return new Error("the host has no iputils arping, and neither bash and timeout nor ping to make its kernel ask");
  if (exit !== "0") return new Error(`ip neigh exited ${exit}: ${body.slice(-1)[0] ?? "no reason given"}`);
  // "198.18.1.11 lladdr 8a:f9:69:30:09:8d REACHABLE" (taken) or "198.18.1.99 INCOMPLETE"/"FAILED" (free)
  const entry = body.find((l) => l.split(/\s+/)[0] === vip && /\blladdr\s/.test(l));
  if (entry) return { method, taken: true, mac: /\blladdr\s+(\S+)/.exec(entry)![1]!.toLowerCase() };
  return { method, taken: false };
}

export interface VipCheckResult {
  /** free: nobody answered; taken: `reason` says who; unchecked: the probe could not run (`reason`). */
  outcome: "free" | "taken" | "unchecked";
  reason?: string;
  method?: VipProbe["method"];
}

/**
 * Ask the network from `from` whether `vip` is free. `interfaces` are the host's (from probing);
 * `owners` the addresses every probed host reported, so a host's own address is caught too.
 */
export async function checkVipFree(
  from: HostAnswer,
  vip: string,
  o: { interfaces: NetInterface[]; owners?: { name: string; interfaces: NetInterface[] }[]; knownHostsFile: string; connectTimeoutMs?: number },
): Promise<VipCheckResult> {
  for (const h of o.owners ?? []) {
    const own = h.interfaces.find((i) => i.address === vip);
    if (own) return { outcome: "taken", reason: `${vip} is already an address of ${h.name} (${own.name})` };
  }
  const iface = interfaceForVip(vip, o.interfaces);
  if (!iface) {
    return { outcome: "unchecked", reason: `${from.name} has no address in ${vip}'s network, so it cannot ask who has ${vip}` };
  }
  const runner = new SshRunner(probeTarget(from, { knownHostsFile: o.knownHostsFile, ...(o.connectTimeoutMs ? { connectTimeoutMs: o.connectTimeoutMs } : {}) }), {
    retryBaseMs: 200,
  });
  try {
    await runner.connect();
    const r = await runner.exec(vipCheckScript(vip, iface.name), { sudo: true, label: `is ${vip} free`, allowFailure: true });
    const p = parseVipCheck(r.stdout, vip);
    if (p instanceof Error) return { outcome: "unchecked", reason: `the check from ${from.name} failed: ${p.message}` };
    const how = p.method === "arping" ? "arping" : "ARP (ip neigh)";
    if (p.taken) return { outcome: "taken", method: p.method, reason: `${vip} is in use: ${p.mac} answered ${how} from ${from.name} on ${iface.name}` };
    return { outcome: "free", method: p.method, reason: `nobody answered ${how} for ${vip} from ${from.name} on ${iface.name}` };
  } catch (e) {
    if (e instanceof KubesmithError) return { outcome: "unchecked", reason: `could not ask from ${from.name}: ${e.oneLine()}` };
    throw e;
  } finally {
    await runner.close();
  }
}

/** A VIP that answered, in a script (answers file / flags): exit 9 like other checks of the hosts' world. */
export class VipInUseError extends PreflightError {}

export function vipInUse(field: string, reason: string): VipInUseError {
  return new VipInUseError(`${field}: ${reason}; a VIP must be an address nobody uses (choose another, or free it)`);
}
