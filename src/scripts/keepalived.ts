// keepalived on the control planes: a virtual IP for the API server, moved by VRRP (unicast) to a host
// whose local kube-apiserver answers /healthz.
//
// How the VIP moves: every instance starts as BACKUP; the highest effective priority holds the VIP. The
// health check carries a negative `weight`, so a failing check lowers a host's priority instead of
// putting it in FAULT. That matters during bootstrap: before `kubeadm init` no API server runs anywhere,
// every check fails, and the host with the highest configured priority (give it to the first control
// plane) still takes the VIP, so kubeadm can reach the control-plane endpoint. Once several API servers
// run, a host whose check fails drops below the healthy ones, and they take the VIP (preemption), unless
// `nopreempt` is set. Keep |weight| larger than the spread of the configured priorities.
import { UsageError } from "../errors.js";
import { interfaceNameProblem } from "../inventory/names.js";
import { showString } from "../inventory/show.js";
import { installStep, packageTool, restartIfActive, serviceEnabledStep, type PackageManager } from "./packages.js";
import { fileStep, type Step } from "./step.js";

export const KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf";
export const APISERVER_CHECK_SCRIPT = "/etc/keepalived/check_apiserver.sh";

/** VRRP protocol version. 3 (default): sub-second adverts, no authentication. 2: whole-second adverts, PASS auth. */
export type VrrpVersion = 2 | 3;

/** Advert interval when none is given: VRRPv3 0.1 s (failover ≈ 0.35 s on host death), VRRPv2 1 s. */
export const DEFAULT_ADVERT_INT: Record<VrrpVersion, number> = { 3: 0.1, 2: 1 };

/**
 * One vrrp_instance block, the part both VIPs share (the control-plane VIP here, the edge VIP through the
 * add-on renderer's `vrrp_instance` filter). Every value is checked: what keepalived's syntax cannot carry
 * is refused, never escaped.
 */
export interface VrrpInstanceOptions {
  /** vrrp_instance name: letters, digits, _ -. */
  name: string;
  vip: string;
  /** Prefix length written after the VIP; default 32. */
  prefix?: number;
  /** Interface that carries the VIP (and the VRRP adverts). */
  interface: string;
  /** virtual_router_id, 1-255; the same on every host of one VIP, unique on the LAN. */
  routerId: number;
  /** 1-254; the highest effective priority holds the VIP. */
  priority: number;
  /** Keep the VIP where it is when a higher-priority host comes back. Default false. */
  nopreempt?: boolean;
  /** VRRP version; default 3. */
  vrrpVersion?: VrrpVersion;
  /** Seconds between adverts: v3 0.01-255 in steps of 0.01 (default 0.1), v2 whole seconds 1-255 (default 1). */
  advertInt?: number;
  /** SECRET. VRRPv2 PASS authentication, 1-8 characters (keepalived ignores more). Refused with version 3. */
  authPass?: string;
  /** Unicast adverts from `self` to `peers`; absent: multicast (224.0.0.18). No peers: no unicast block. */
  unicast?: { self: string; peers: string[] };
  /** vrrp_script names to track. */
  trackScripts?: string[];
}

export interface KeepalivedOptions {
  vip: string;
  /** Interface that carries the VIP (and the VRRP adverts). */
  interface: string;
  /** virtual_router_id, 1-255; the same on every control plane of one cluster, unique on the LAN. */
  routerId: number;
  /** 1-254; give each control plane a different one, the first control plane the highest. */
  priority: number;
  /** The other control planes' addresses (unicast_peer). */
  peers: string[];
  /** This host's address (unicast_src_ip). */
  self: string;
  /** Unicast adverts to `peers` (default true); false: multicast. */
  unicast?: boolean;
  /** VRRP version; default 3 (sub-second adverts, no authentication). */
  vrrpVersion?: VrrpVersion;
  /** SECRET. VRRPv2 PASS authentication, 1-8 characters. Only with vrrpVersion 2. */
  authPass?: string;
  /** Absolute path of the health-check script (apiserverHealthCheckScript()). */
  healthCheck: string;
  /** Priority change while the check fails; default -50. */
  weight?: number;
  /** Keep the VIP where it is when a higher-priority host comes back. Default false. */
  nopreempt?: boolean;
  /** VRRP advert interval in seconds; default 0.1 (v3) or 1 (v2). */
  advertInt?: number;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// keepalived's parser splits on blanks and treats # and ! as comments; quotes and braces are syntax.
// Values that cannot be written safely are refused rather than escaped.
const IFNAME = /^[A-Za-z0-9_.@-]{1,15}$/;
const AUTH_PASS = /^[A-Za-z0-9_.+=/:,%^&*()[\]~@?-]{1,8}$/;
const SCRIPT_PATH = /^\/[A-Za-z0-9_./-]+$/;
const WORD = /^[A-Za-z0-9_-]{1,64}$/;

function fail(message: string): never {
  throw new UsageError(message);
}

function checkIPv4(value: unknown, field: string): string {
  if (typeof value !== "string" || !IPV4.test(value)) fail(`keepalived ${field} ${showString(String(value))} must be an IPv4 address`);
  return value;
}

function checkInt(value: unknown, min: number, max: number, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) fail(`keepalived ${field} must be an integer ${min}-${max}, got ${String(value)}`);
  return value;
}

function checkInterface(value: unknown): string {
  // Linux's rules (dev_valid_name, net/core/dev.c) and keepalived's syntax: see inventory/names.ts.
  const s = typeof value === "string" ? value : String(value);
  const ifProblem = typeof value === "string" ? interfaceNameProblem(value) : "not text";
  if (ifProblem || !IFNAME.test(s)) fail(`keepalived interface ${showString(s)} is not a plain interface name (letters, digits, _ . @ -, at most 15; not . or ..)${ifProblem ? `: ${ifProblem}` : ""}`);
  return s;
}

/**
 * Why an advert interval does not fit a VRRP version (undefined: it fits). keepalived takes v3 intervals
 * in centiseconds, 0.01-255, and v2 intervals in whole seconds (it rounds a fraction, with a warning).
 */
export function advertIntProblem(advertInt: number, version: VrrpVersion): string | undefined {
  if (typeof advertInt !== "number" || !Number.isFinite(advertInt)) return "must be a number of seconds";
  if (version === 2) {
    return Number.isInteger(advertInt) && advertInt >= 1 && advertInt <= 255 ? undefined : `must be whole seconds 1-255 with VRRP version 2 (fractions need version 3), got ${advertInt}`;
  }
  if (advertInt < 0.01 || advertInt > 255) return `must be 0.01-255 seconds, got ${advertInt}`;
  return Math.abs(advertInt * 100 - Math.round(advertInt * 100)) < 1e-6 ? undefined : `must be a multiple of 0.01 s (VRRPv3 counts centiseconds), got ${advertInt}`;
}

/** The advert interval as keepalived reads it: at most two decimals, no exponent. */
function formatSeconds(s: number): string {
  return String(Math.round(s * 100) / 100);
}

/** The lines of one vrrp_instance block (no trailing blank line). Throws UsageError on a value keepalived cannot carry. */
export function vrrpInstanceLines(o: VrrpInstanceOptions): string[] {
  if (typeof o.name !== "string" || !WORD.test(o.name)) fail(`keepalived instance name ${showString(String(o.name))} must be letters, digits, _ -`);
  checkIPv4(o.vip, "vip");
  const iface = checkInterface(o.interface);
  const prefix = checkInt(o.prefix ?? 32, 1, 32, "prefix");
  const routerId = checkInt(o.routerId, 1, 255, "routerId");
  const priority = checkInt(o.priority, 1, 254, "priority");
  const version = o.vrrpVersion ?? 3;
  if (version !== 2 && version !== 3) fail(`keepalived vrrpVersion must be 2 or 3, got ${String(version)}`);
  const advertInt = o.advertInt ?? DEFAULT_ADVERT_INT[version];
  const problem = advertIntProblem(advertInt, version);
  if (problem) fail(`keepalived advertInt ${problem}`);
  if (o.authPass !== undefined) {
    if (version === 3) fail("keepalived authPass needs vrrpVersion 2: VRRPv3 has no authentication (keepalived ignores it)");
    if (typeof o.authPass !== "string" || !AUTH_PASS.test(o.authPass)) fail("keepalived authPass must be 1-8 characters without blanks, quotes, braces, # or !");
  }
  const uni = o.unicast;
  if (uni) {
    checkIPv4(uni.self, "self (unicast_src_ip)");
    uni.peers.forEach((p, i) => checkIPv4(p, `peers[${i}]`));
    if (uni.peers.includes(uni.self)) fail(`keepalived peers must not include this host's own address ${uni.self}`);
    if (uni.peers.includes(o.vip) || uni.self === o.vip) fail(`keepalived vip ${o.vip} must differ from every host address`);
  }
  for (const t of o.trackScripts ?? []) if (!WORD.test(t)) fail(`keepalived track script name ${showString(t)} must be letters, digits, _ -`);

  return [
    `vrrp_instance ${o.name} {`,
    "    state BACKUP",
    `    interface ${iface}`,
    `    virtual_router_id ${routerId}`,
    `    priority ${priority}`,
    ...(o.nopreempt ? ["    nopreempt"] : []),
    `    version ${version}`,
    `    advert_int ${formatSeconds(advertInt)}`,
    // A lone host has no peers: keepalived rejects an empty unicast block (it warns and falls back to
    // multicast), so the block is left out and the single instance simply holds the VIP.
    ...(uni && uni.peers.length > 0
      ? [`    unicast_src_ip ${uni.self}`, "    unicast_peer {", ...uni.peers.map((p) => `        ${p}`), "    }"]
      : []),
    ...(o.authPass !== undefined ? ["    authentication {", "        auth_type PASS", `        auth_pass ${o.authPass}`, "    }"] : []),
    "    virtual_ipaddress {",
    `        ${o.vip}/${prefix} dev ${iface}`,
    "    }",
    ...(o.trackScripts?.length ? ["    track_script {", ...o.trackScripts.map((t) => `        ${t}`), "    }"] : []),
    "}",
  ];
}

/**
 * The one health-check model of both VIPs: a command run every `interval` s, killed after `timeout` s;
 * `fall` failures in a row lower this host's priority by |weight| (so another host takes the VIP), `rise`
 * successes raise it back. Both checks ask this host's own service on a local port (the control plane: its
 * kube-apiserver's /healthz; the edge: its own Traefik's host port), never through anything that could
 * answer from another host.
 */
export interface HealthCheck {
  name: string;
  /** The command line keepalived runs (written inside double quotes). */
  script: string;
  interval: number;
  timeout: number;
  fall: number;
  rise: number;
  weight: number;
}

/** The vrrp_script block of a HealthCheck (both VIPs, see HealthCheck). */
export function vrrpScriptLines(h: HealthCheck): string[] {
  if (!/^[A-Za-z0-9_-]+$/.test(h.name)) fail(`keepalived vrrp_script name ${showString(h.name)} must be letters, digits, _ -`);
  if (!h.script || /["\n\r\\{}#!]/.test(h.script)) fail(`keepalived vrrp_script ${h.name}: script ${showString(h.script)} must not be empty or hold a double quote, backslash, brace, # or ! or a line break`);
  return [
    `vrrp_script ${h.name} {`,
    `    script "${h.script}"`,
    `    interval ${checkInt(h.interval, 1, 3600, "interval")}`,
    `    timeout ${checkInt(h.timeout, 1, 3600, "timeout")}`,
    `    fall ${checkInt(h.fall, 1, 255, "fall")}`,
    `    rise ${checkInt(h.rise, 1, 255, "rise")}`,
    `    weight ${checkInt(h.weight, -253, 253, "weight")}`,
    "}",
  ];
}

/** What both VIPs' keepalived.conf start with: scripts run as root, and only scripts root alone can change. */
export const GLOBAL_DEFS_LINES: readonly string[] = ["global_defs {", "    enable_script_security", "    script_user root", "}"];

/** keepalived.conf for one control plane. With VRRPv2 it contains the VRRP password: write it 0600. */
export function controlPlaneKeepalivedConfig(o: KeepalivedOptions): string {
  if (!SCRIPT_PATH.test(o.healthCheck)) fail(`keepalived healthCheck ${showString(o.healthCheck)} must be an absolute path of letters, digits, _ . / -`);
  // Checked here too when unicast is off: the peers are still the other control planes.
  checkIPv4(o.self, "self (unicast_src_ip)");
  o.peers.forEach((p, i) => checkIPv4(p, `peers[${i}]`));
  const weight = checkInt(o.weight ?? -50, -253, 253, "weight");
  const instance = vrrpInstanceLines({
    name: "kube_apiserver",
    vip: o.vip,
    interface: o.interface,
    routerId: o.routerId,
    priority: o.priority,
    ...(o.nopreempt ? { nopreempt: true } : {}),
    ...(o.vrrpVersion !== undefined ? { vrrpVersion: o.vrrpVersion } : {}),
    ...(o.advertInt !== undefined ? { advertInt: o.advertInt } : {}),
    ...(o.authPass !== undefined ? { authPass: o.authPass } : {}),
    ...(o.unicast === false ? {} : { unicast: { self: o.self, peers: o.peers } }),
    trackScripts: ["check_apiserver"],
  });

  const lines = [
    "# Written by kubesmith: keepalived for the Kubernetes API server VIP. Do not edit; re-run kubesmith.",
    ...GLOBAL_DEFS_LINES,
    "",
    ...vrrpScriptLines({ name: "check_apiserver", script: o.healthCheck, interval: 3, timeout: 5, fall: 3, rise: 2, weight }),
    "",
    ...instance,
    "",
  ];
  return lines.join("\n");
}

/** The health check: exit 0 when the local API server answers /healthz with "ok". */
export function apiserverHealthCheckScript(port = 6443): string {
  checkInt(port, 1, 65535, "apiserver port");
  return [
    "#!/bin/sh",
    "# Written by kubesmith: keepalived health check of the local kube-apiserver.",
    `out=$(curl -sk --max-time 3 https://127.0.0.1:${port}/healthz) || exit 1`,
    '[ "$out" = ok ]',
    "",
  ].join("\n");
}

export interface KeepalivedStepsOptions extends KeepalivedOptions {
  packageManager: PackageManager;
  /** API server port the check probes; default 6443. */
  apiserverPort?: number;
  /** Default /etc/keepalived/keepalived.conf. */
  configPath?: string;
}

/** Install keepalived, write its check script and (secret, 0600) config, run it; restart on change. */
export function keepalivedSteps(o: KeepalivedStepsOptions): Step[] {
  const configPath = o.configPath ?? KEEPALIVED_CONF;
  return [
    installStep(packageTool(o.packageManager), { id: "keepalived-install", what: "install keepalived", pkgs: ["keepalived"] }),
    fileStep({
      id: "keepalived-check-script",
      what: `write the API server health check ${o.healthCheck}`,
      file: { path: o.healthCheck, content: apiserverHealthCheckScript(o.apiserverPort ?? 6443), mode: 0o755 },
    }),
    fileStep({
      id: "keepalived-config",
      what: `write ${configPath} (VIP ${o.vip} on ${o.interface}, priority ${o.priority}), restart keepalived if running`,
      file: { path: configPath, content: controlPlaneKeepalivedConfig(o), mode: 0o600, secret: true },
      after: [restartIfActive("keepalived")],
    }),
    serviceEnabledStep({ id: "keepalived-service", unit: "keepalived", start: true }),
  ];
}
