// firewalld on the lab's RHEL-like hosts, and `firewall-cmd`: the zone's state is kept like firewalld keeps
// it (a permanent configuration, and a runtime one while the daemon runs), and the runtime zone is applied
// as REAL nftables rules in the host's network namespace with one `nft -f` call, so a closed port really
// turns connections away from other hosts.
//
// Upstream facts this follows (firewalld/firewalld at 2745d6f0ab9e):
//  - config/zones/public.xml: the public zone allows the services ssh and dhcpv6-client; RHEL's and Rocky's
//    package also adds cockpit ("services: cockpit dhcpv6-client ssh" on a fresh Rocky 9). Public is the
//    default zone (config/firewalld.conf DefaultZone=public); Rocky 9 uses the nftables backend.
//  - config/services/{ssh,dhcpv6-client,cockpit}.xml: 22/tcp; 546/udp to fe80::/64; 9090/tcp.
//  - src/firewall/core/nftables.py: table `inet firewalld`; base chain filter_INPUT at hook input, priority
//    filter + 10 (NFT_HOOK_OFFSET), policy accept; `ct state established,related accept`,
//    `ct status dnat accept`, `iifname "lo" accept`, `ct state invalid drop`, then the zone's rules, and the
//    last rule `reject with icmpx type admin-prohibited` (a TCP client sees "No route to host"). Zone
//    rules accept `ct state new,untracked` per port (`tcp dport N`) and per protocol (`meta l4proto N`);
//    ICMP is allowed in a zone with target default and no icmp blocks.
//  - src/firewall/errors.py: ALREADY_ENABLED 11 and NOT_ENABLED 12 are warnings (exit 0), INVALID_SERVICE
//    101, INVALID_PORT 102, INVALID_PROTOCOL 103, INVALID_ZONE 112, INVALID_COMMAND 129, NOT_RUNNING 252.
//  - src/firewall/functions.py checkProtocol: a protocol is a number 0-255 or a name getprotobyname knows.
// Not modelled: other zones and interface/source bindings, forwarding and policies (no pods run in the
// lab), rich rules, icmp blocks, masquerade, IPv6 addresses (lab hosts have none).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { SIM_VAR, fail, readJson, writeJson, type Sim } from "./util.js";
import { hostInterfaces } from "./netinfo.js";

export interface Zone {
  name: string;
  services: string[];
  ports: string[];
  protocols: string[];
}

export interface FirewalldState {
  defaultZone: string;
  /** The configuration on disk (--permanent). */
  permanent: Zone;
  /** What the daemon enforces; undefined while firewalld is not running. */
  runtime?: Zone;
}

export const FIREWALLD_STATE = path.join(SIM_VAR, "firewalld.json");
export const FIREWALLD_CONF_DIR = "/etc/firewalld";

/** Services the lab knows (firewalld's config/services/*.xml). */
export const SERVICES: Record<string, { ports: string[]; ipv6Destination?: string }> = {
  ssh: { ports: ["22/tcp"] },
  "dhcpv6-client": { ports: ["546/udp"], ipv6Destination: "fe80::/64" },
  cockpit: { ports: ["9090/tcp"] },
  http: { ports: ["80/tcp"] },
  https: { ports: ["443/tcp"] },
  "kube-apiserver": { ports: ["6443/tcp"] },
  "etcd-client": { ports: ["2379/tcp"] },
  "etcd-server": { ports: ["2380/tcp"] },
  kubelet: { ports: ["10250/tcp"] },
  bgp: { ports: ["179/tcp"] },
  vrrp: { ports: [] },
};

/** A fresh Rocky 9's public zone. */
export function rockyPublicZone(): Zone {
  return { name: "public", services: ["cockpit", "dhcpv6-client", "ssh"], ports: [], protocols: [] };
}

export function initialFirewalldState(): FirewalldState {
  const z = rockyPublicZone();
  return { defaultZone: "public", permanent: z, runtime: structuredClone(z) };
}

/** Protocol names → numbers from /etc/protocols (as getprotobyname), with the few the lab needs built in. */
function protocolNumber(p: string): number | undefined {
  if (/^\d+$/.test(p)) {
    const n = Number(p);
    return n <= 255 ? n : undefined;
  }
  let text = "";
  try {
    text = readFileSync("/etc/protocols", "utf8");
  } catch {
    /* none */
  }
  for (const line of text.split("\n")) {
    const f = line.replace(/#.*/, "").trim().split(/\s+/);
    if (f.length >= 2 && (f[0] === p || f.slice(2).includes(p))) return Number(f[1]);
  }
  return ({ icmp: 1, tcp: 6, udp: 17, ipencap: 4, vrrp: 112, gre: 47, esp: 50, ah: 51 } as Record<string, number>)[p];
}

const PORT_RE = /^(\d{1,5})(?:-(\d{1,5}))?\/(tcp|udp|sctp|dccp)$/;

function validPort(p: string): boolean {
  const m = PORT_RE.exec(p);
  if (!m) return false;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return lo >= 1 && hi <= 65535 && lo <= hi;
}

/** nft's spelling of a port or range: "6443", "2379-2380". */
function nftPort(p: string): { port: string; proto: string } {
  const m = PORT_RE.exec(p)!;
  return { port: m[2] === undefined ? m[1]! : `${m[1]}-${m[2]}`, proto: m[3]! };
}

/** The nftables ruleset firewalld would load for this zone (the default zone, bound to every interface). */
export function firewalldRuleset(zone: Zone): string {
  const NEW = "ct state { new, untracked } accept";
  const rules: string[] = ["meta l4proto { icmp, ipv6-icmp } accept"];
  for (const s of zone.services) {
    const svc = SERVICES[s];
    if (!svc) continue;
    for (const p of svc.ports) {
      const { port, proto } = nftPort(p);
      rules.push(`${svc.ipv6Destination ? `ip6 daddr ${svc.ipv6Destination} ` : ""}${proto} dport ${port} ${NEW}`);
    }
  }
  for (const p of zone.ports) {
    const { port, proto } = nftPort(p);
    rules.push(`${proto} dport ${port} ${NEW}`);
  }
  for (const p of zone.protocols) {
    const n = protocolNumber(p);
    if (n !== undefined) rules.push(`meta l4proto ${n} ${NEW}`);
  }
  // "table …" then "delete table …" makes the file load whether or not the table exists: one atomic call
  return [
    "table inet firewalld",
    "delete table inet firewalld",
    "table inet firewalld {",
    `\tchain filter_IN_${zone.name} {`,
    ...rules.map((r) => `\t\t${r}`),
    "\t}",
    "\tchain filter_INPUT {",
    "\t\ttype filter hook input priority filter + 10; policy accept;",
    "\t\tct state { established, related } accept",
    "\t\tct status dnat accept",
    '\t\tiifname "lo" accept',
    "\t\tct state { invalid } drop",
    `\t\tjump filter_IN_${zone.name}`,
    "\t\treject with icmpx type admin-prohibited",
    "\t}",
    "}",
    "",
  ].join("\n");
}

function nftBinary(): string {
  for (const p of ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]) if (existsSync(p)) return p;
  return "nft";
}

/** Load (or remove, with undefined) the rules in this host's network namespace: one nft call. */
export function applyRuleset(zone: Zone | undefined): void {
  const input = zone ? firewalldRuleset(zone) : "table inet firewalld\ndelete table inet firewalld\n";
  const r = spawnSync(nftBinary(), ["-f", "-"], { input, encoding: "utf8" });
  if (r.status !== 0) fail(1, `firewalld: loading the nftables rules failed: ${(r.stderr || r.error?.message || "").trim()}`);
}

export function loadFirewalld(): FirewalldState | undefined {
  return readJson<FirewalldState | undefined>(FIREWALLD_STATE, undefined);
}

/** firewalld is installed on this host (the lab puts its configuration directory on RHEL-like hosts). */
export function firewalldInstalled(): boolean {
  return existsSync(FIREWALLD_CONF_DIR) && loadFirewalld() !== undefined;
}

/** systemctl start/stop firewalld: the runtime zone is the permanent one, loaded as rules; or no rules. */
export function setFirewalldRunning(running: boolean): void {
  const st = loadFirewalld();
  if (!st) return;
  if (running) st.runtime = structuredClone(st.permanent);
  else delete st.runtime;
  applyRuleset(st.runtime);
  writeJson(FIREWALLD_STATE, st);
}

/** The host's interfaces other than lo (NetworkManager puts each connection's interface in the default zone). */
function zoneInterfaces(): string {
  return hostInterfaces().map((n) => n.name).filter((n) => n !== "lo").join(" ") || "eth0";
}

function listAll(z: Zone, active: boolean): string {
  return [
    `${z.name}${active ? " (active)" : ""}`,
    "  target: default",
    "  icmp-block-inversion: no",
    `  interfaces: ${active ? zoneInterfaces() : ""}`,
    "  sources: ",
    `  services: ${[...z.services].sort().join(" ")}`,
    `  ports: ${z.ports.join(" ")}`,
    `  protocols: ${z.protocols.join(" ")}`,
    "  forward: yes",
    "  masquerade: no",
    "  forward-ports: ",
    "  source-ports: ",
    "  icmp-blocks: ",
    "  rich rules: ",
    "",
  ].join("\n");
}

type Kind = "port" | "protocol" | "service";

function checkValue(kind: Kind, v: string): void {
  if (kind === "port" && !validPort(v)) fail(102, `Error: INVALID_PORT: ${v}`);
  if (kind === "protocol" && protocolNumber(v) === undefined) fail(103, `Error: INVALID_PROTOCOL: ${v}`);
  if (kind === "service" && !SERVICES[v]) fail(101, `Error: INVALID_SERVICE: '${v}' not among existing services`);
}

const listOf = (z: Zone, kind: Kind): string[] => (kind === "port" ? z.ports : kind === "protocol" ? z.protocols : z.services);

/** firewall-cmd: --state, --reload, [--permanent] [--zone=public] --add/--remove/--query/--list-…, --list-all. */
export function firewallCmd(sim: Sim, args: string[]): number {
  if (sim.os().family !== "rhel") fail(127, "sh: 1: firewall-cmd: not found");
  const st = loadFirewalld();
  if (!st) fail(127, "sh: 1: firewall-cmd: not found");
  const permanent = args.includes("--permanent");
  const ops: [string, string | undefined][] = [];
  for (const a of args) {
    if (a === "--permanent" || a === "-q" || a === "--quiet") continue;
    if (!a.startsWith("--")) fail(129, `usage: see firewall-cmd man page\nfirewall-cmd: error: unrecognized arguments: ${a}`);
    const eq = a.indexOf("=");
    ops.push(eq > 0 ? [a.slice(2, eq), a.slice(eq + 1)] : [a.slice(2), undefined]);
  }
  const zoneArg = ops.find(([k]) => k === "zone")?.[1];
  if (zoneArg !== undefined && zoneArg !== st.defaultZone) fail(112, `Error: INVALID_ZONE: ${zoneArg}`);
  const rest = ops.filter(([k]) => k !== "zone");
  if (rest.length === 0) fail(2, "usage: see firewall-cmd man page\nNo option specified.");
  const running = st.runtime !== undefined;
  if (rest.some(([k]) => k === "state")) {
    sim.out(running ? "running\n" : "not running\n");
    return running ? 0 : 252;
  }
  // --permanent too: firewall-cmd talks to the daemon over D-Bus (offline: firewall-offline-cmd)
  if (!running) fail(252, "FirewallD is not running");
  const mutating = rest.some(([k]) => /^(add|remove)-|^reload$|^complete-reload$|^runtime-to-permanent$/.test(k));
  if (mutating && !sim.isRoot) fail(253, "Authorization failed.\n    Make sure polkit agent is running or run the application as superuser.");
  const zone = permanent ? st.permanent : st.runtime!;
  let code = 0;
  let changed = false;
  for (const [k, v] of rest) {
    if (k === "reload" || k === "complete-reload") {
      st.runtime = structuredClone(st.permanent);
      changed = true;
      continue;
    }
    if (k === "runtime-to-permanent") {
      st.permanent = structuredClone(st.runtime!);
      continue;
    }
    if (k === "get-default-zone") {
      sim.out(`${st.defaultZone}\n`);
      continue;
    }
    if (k === "get-active-zones") {
      sim.out(`${st.defaultZone}\n  interfaces: ${zoneInterfaces()}\n`);
      continue;
    }
    if (k === "list-all") {
      sim.out(listAll(zone, true));
      continue;
    }
    const list = /^list-(ports|protocols|services)$/.exec(k);
    if (list) {
      const kind = list[1]!.replace(/s$/, "") as Kind;
      const items = kind === "service" ? [...zone.services].sort() : listOf(zone, kind);
      sim.out(`${items.join(" ")}\n`);
      continue;
    }
    const m = /^(add|remove|query)-(port|protocol|service)$/.exec(k);
    if (!m || v === undefined) fail(129, `usage: see firewall-cmd man page\nfirewall-cmd: error: unrecognized arguments: --${k}${v !== undefined ? `=${v}` : ""}`);
    const kind = m[2] as Kind;
    checkValue(kind, v);
    const items = listOf(zone, kind);
    const has = items.includes(v);
    const shown = kind === "port" ? v.replace("/", ":") : v;
    if (m[1] === "query") {
      sim.out(has ? "yes\n" : "no\n");
      if (!has) code = 1;
      continue;
    }
    if (m[1] === "add") {
      if (has) sim.err(`Warning: ALREADY_ENABLED: ${shown}\n`);
      else items.push(v);
    } else if (!has) sim.err(`Warning: NOT_ENABLED: ${shown}\n`);
    else items.splice(items.indexOf(v), 1);
    if (!permanent) changed = true;
  }
  if (changed) applyRuleset(st.runtime);
  if (mutating) {
    writeJson(FIREWALLD_STATE, st);
    sim.out("success\n");
  }
  return code;
}
