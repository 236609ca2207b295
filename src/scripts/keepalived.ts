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
import { APPLY_HEADER, debInstalledProbe, fileStep, probeAll, rpmInstalledProbe, script, type Step } from "./step.js";
import type { PackageManager } from "./os.js";

export const KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf";
export const APISERVER_CHECK_SCRIPT = "/etc/keepalived/check_apiserver.sh";

export interface KeepalivedOptions {
  vip: string;
  /** Interface that carries the VIP (and the VRRP adverts). */
  interface: string;
  /** virtual_router_id, 1-255; the same on every control plane of one cluster, unique on the LAN. */
  routerId: number;
  /** 1-254; give each control plane a different one, the first control plane the highest. */
  priority: number;
  /** Unicast peers: the other control planes' addresses. */
  peers: string[];
  /** This host's address (unicast_src_ip). */
  self: string;
  /** SECRET. VRRP PASS authentication, 1-8 characters (keepalived ignores more). */
  authPass: string;
  /** Absolute path of the health-check script (apiserverHealthCheckScript()). */
  healthCheck: string;
  /** Priority change while the check fails; default -50. */
  weight?: number;
  /** Keep the VIP where it is when a higher-priority host comes back. Default false. */
  nopreempt?: boolean;
  /** VRRP advert interval in seconds; default 1. */
  advertInt?: number;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// keepalived's parser splits on blanks and treats # and ! as comments; quotes and braces are syntax.
// Values that cannot be written safely are refused rather than escaped.
const IFNAME = /^[A-Za-z0-9_.@-]{1,15}$/;
const AUTH_PASS = /^[A-Za-z0-9_.+=/:,%^&*()[\]~@?-]{1,8}$/;
const SCRIPT_PATH = /^\/[A-Za-z0-9_./-]+$/;

function fail(message: string): never {
  throw new UsageError(message);
}

function checkIPv4(value: string, field: string): string {
  if (!IPV4.test(value)) fail(`keepalived ${field} ${showString(value)} must be an IPv4 address`);
  return value;
}

function checkInt(value: number, min: number, max: number, field: string): number {
  if (!Number.isInteger(value) || value < min || value > max) fail(`keepalived ${field} must be an integer ${min}-${max}, got ${value}`);
  return value;
}

/** keepalived.conf for one control plane. Contains the VRRP password: write it 0600. */
export function controlPlaneKeepalivedConfig(o: KeepalivedOptions): string {
  checkIPv4(o.vip, "vip");
  checkIPv4(o.self, "self (unicast_src_ip)");
  o.peers.forEach((p, i) => checkIPv4(p, `peers[${i}]`));
  // Linux's rules (dev_valid_name, net/core/dev.c) and keepalived's syntax: see inventory/names.ts.
  const ifProblem = interfaceNameProblem(o.interface);
  if (ifProblem || !IFNAME.test(o.interface)) fail(`keepalived interface ${showString(o.interface)} is not a plain interface name (letters, digits, _ . @ -, at most 15; not . or ..)${ifProblem ? `: ${ifProblem}` : ""}`);
  if (!AUTH_PASS.test(o.authPass)) fail("keepalived authPass must be 1-8 characters without blanks, quotes, braces, # or !");
  if (!SCRIPT_PATH.test(o.healthCheck)) fail(`keepalived healthCheck ${showString(o.healthCheck)} must be an absolute path of letters, digits, _ . / -`);
  if (o.peers.includes(o.self)) fail(`keepalived peers must not include this host's own address ${o.self}`);
  if (o.peers.includes(o.vip) || o.self === o.vip) fail(`keepalived vip ${o.vip} must differ from every host address`);
  const routerId = checkInt(o.routerId, 1, 255, "routerId");
  const priority = checkInt(o.priority, 1, 254, "priority");
  const weight = checkInt(o.weight ?? -50, -253, 253, "weight");
  const advertInt = checkInt(o.advertInt ?? 1, 1, 255, "advertInt");

  const lines = [
    "# Written by kubesmith: keepalived for the Kubernetes API server VIP. Do not edit; re-run kubesmith.",
    "global_defs {",
    "    enable_script_security",
    "    script_user root",
    "}",
    "",
    "vrrp_script check_apiserver {",
    `    script "${o.healthCheck}"`,
    "    interval 3",
    "    timeout 5",
    "    fall 3",
    "    rise 2",
    `    weight ${weight}`,
    "}",
    "",
    "vrrp_instance kube_apiserver {",
    "    state BACKUP",
    `    interface ${o.interface}`,
    `    virtual_router_id ${routerId}`,
    `    priority ${priority}`,
    ...(o.nopreempt ? ["    nopreempt"] : []),
    `    advert_int ${advertInt}`,
    // A lone control plane has no peers: keepalived rejects an empty unicast block (it warns and falls
    // back to multicast), so the block is left out and the single instance simply holds the VIP.
    ...(o.peers.length > 0
      ? [`    unicast_src_ip ${o.self}`, "    unicast_peer {", ...o.peers.map((p) => `        ${p}`), "    }"]
      : []),
    "    authentication {",
    "        auth_type PASS",
    `        auth_pass ${o.authPass}`,
    "    }",
    "    virtual_ipaddress {",
    `        ${o.vip}/32 dev ${o.interface}`,
    "    }",
    "    track_script {",
    "        check_apiserver",
    "    }",
    "}",
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
  const pm = o.packageManager;
  const restartIfRunning = "if systemctl is-active --quiet keepalived; then systemctl restart keepalived; fi";
  return [
    {
      id: "keepalived-install",
      what: "install keepalived",
      probe: probeAll(pm === "apt" ? debInstalledProbe(["keepalived"]) : rpmInstalledProbe(["keepalived"])),
      apply: script(
        APPLY_HEADER,
        pm === "apt"
          ? script("export DEBIAN_FRONTEND=noninteractive", "apt-get update -q", "apt-get install -y -q keepalived")
          : `${pm} install -y keepalived`,
      ),
    },
    fileStep({
      id: "keepalived-check-script",
      what: `write the API server health check ${o.healthCheck}`,
      file: { path: o.healthCheck, content: apiserverHealthCheckScript(o.apiserverPort ?? 6443), mode: 0o755 },
    }),
    fileStep({
      id: "keepalived-config",
      what: `write ${configPath} (VIP ${o.vip} on ${o.interface}, priority ${o.priority}), restart keepalived if running`,
      file: { path: configPath, content: controlPlaneKeepalivedConfig(o), mode: 0o600, secret: true },
      after: [restartIfRunning],
    }),
    {
      id: "keepalived-service",
      what: "enable and start keepalived",
      probe: probeAll("systemctl is-enabled --quiet keepalived", "systemctl is-active --quiet keepalived"),
      apply: script(APPLY_HEADER, "systemctl enable keepalived", "systemctl start keepalived"),
    },
  ];
}
