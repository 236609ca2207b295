// The inventory's HTTP(S) proxy on a host, as Steps: the package manager (apt: an apt.conf.d file with
// Acquire::http(s)::Proxy; dnf/yum: `proxy=` in [main] of dnf.conf/yum.conf, which has no drop-in
// directory in dnf 4) and the two daemons that reach registries and the API (containerd, kubelet: systemd
// drop-ins with Environment=HTTP_PROXY/HTTPS_PROXY/NO_PROXY, then daemon-reload and a restart). With no
// proxy in the inventory, one step removes whatever an earlier run wrote, so taking the setting out
// converges too.
//
// Facts this follows (looked up, not copied): kubespray's http_proxy/https_proxy/no_proxy (https defaults
// to http; no_proxy gets every host, the VIP/load balancer, the service and pod networks, localhost);
// KubeOne's proxy: {http, https, noProxy} (systemd drop-ins for containerd and kubelet); apt.conf(5)
// Acquire::http::Proxy / Acquire::https::Proxy; dnf.conf(5) `proxy` in [main]; systemd.exec(5)
// Environment= (quoted words; "%" must be written "%%", systemd.unit(5) specifiers); Go's
// golang.org/x/net/http/httpproxy (NO_PROXY entries: host, .domain, IP, CIDR, optional :port; HTTP_PROXY,
// HTTPS_PROXY read by containerd and the kubelet).
//
// A proxy URL with user:password@ is a secret: such files are written from stdin (never in the script or
// argv) with mode 0600, the URL and its credentials go into Step.secrets (redacted from the host logs), and
// Step.what shows the URL as scheme://***@host:port. Pure: no I/O, golden-tested.
import { UsageError } from "../errors.js";
import type { Inventory } from "../inventory/schema.js";
import { quote, sh } from "../ssh/quote.js";
import type { PackageManager } from "./distro/common.js";
import { APPLY_HEADER, fileStep, probeAll, script, type ManagedFile, type Step } from "./step.js";

export const APT_PROXY_CONF = "/etc/apt/apt.conf.d/90kubesmith-proxy";
export const CONTAINERD_PROXY_DROPIN = "/etc/systemd/system/containerd.service.d/kubesmith-proxy.conf";
export const KUBELET_PROXY_DROPIN = "/etc/systemd/system/kubelet.service.d/kubesmith-proxy.conf";
/** The line kubesmith puts before its own `proxy=` line in dnf.conf / yum.conf. */
export const DNF_PROXY_MARK = "# kubesmith: proxy from the inventory (change it there)";
/** Prefix of a user's own `proxy=` line in [main] that kubesmith set aside; restored when the proxy is removed. */
export const DNF_SET_ASIDE = "#kubesmith# ";

export function dnfConfPath(pm: PackageManager): string {
  return pm === "yum" ? "/etc/yum.conf" : "/etc/dnf/dnf.conf";
}

/** The proxy settings for a host: the inventory's URLs and the computed NO_PROXY list. */
export interface ProxySettings {
  http?: string | undefined;
  https?: string | undefined;
  /** Complete NO_PROXY entries (see noProxyList). */
  noProxy: readonly string[];
  /** The inventory's own noProxy entries: single hosts among them go to apt as "DIRECT" (package mirrors). */
  direct?: readonly string[] | undefined;
}

export interface NoProxyInputs {
  /** The inventory's own entries, first. */
  user?: readonly string[] | undefined;
  hosts: readonly { name: string; address: string; internalAddress?: string | undefined }[];
  podCIDR: string;
  serviceCIDR: string;
  /** Control-plane VIP, edge VIP. */
  vips: readonly string[];
  /** The control-plane endpoint's host (VIP, load balancer name or address), without a port. */
  endpointHost?: string | undefined;
  /** Default cluster.local (kubeadm's networking.dnsDomain default). */
  clusterDomain?: string;
}

/**
 * NO_PROXY: the user's entries, then localhost, 127.0.0.1, every host's name and addresses, the pod and
 * service CIDRs, the VIPs, the control-plane endpoint host, .svc and .svc.<cluster domain>. Each entry
 * once, in that order.
 */
export function noProxyList(i: NoProxyInputs): string[] {
  const domain = i.clusterDomain ?? "cluster.local";
  const all = [
    ...(i.user ?? []),
    "localhost",
    "127.0.0.1",
    ...i.hosts.flatMap((h) => [h.name, h.address, ...(h.internalAddress ? [h.internalAddress] : [])]),
    i.podCIDR,
    i.serviceCIDR,
    ...i.vips,
    ...(i.endpointHost ? [i.endpointHost] : []),
    ".svc",
    `.svc.${domain}`,
  ];
  return [...new Set(all)];
}

/** scheme://***@host:port for a URL with credentials; the URL itself otherwise. For plan lines and messages. */
export function redactProxyUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/)[^/]*@/i, "$1***@");
}

function credentialsOf(url: string): string | undefined {
  return /^[a-z]+:\/\/([^/]*)@/i.exec(url)?.[1];
}

/** Values to redact from logs: each URL with credentials, its user:password and the password alone. */
export function proxySecrets(p: Pick<ProxySettings, "http" | "https">): string[] {
  const out = new Set<string>();
  for (const url of [p.http, p.https]) {
    const cred = url ? credentialsOf(url) : undefined;
    if (!url || !cred) continue;
    out.add(url);
    out.add(cred);
    const pw = cred.includes(":") ? cred.slice(cred.indexOf(":") + 1) : "";
    if (pw.length >= 4) out.add(pw);
  }
  // …and as the systemd drop-ins write them ("%" doubled).
  for (const v of [...out]) if (v.includes("%")) out.add(v.replace(/%/g, "%%"));
  return [...out];
}

function checkUrl(url: string, field: string): void {
  // The schema already refuses these; this keeps a bad value from breaking the files it is written into.
  if (!/^https?:\/\/[^\s"'\\;]+$/.test(url)) throw new UsageError(`proxy.${field} ${JSON.stringify(redactProxyUrl(url))} must be an http(s):// URL without spaces, quotes, backslashes or ';'`);
}

/** The effective URLs: https defaults to http and http to https (kubespray's https_proxy default). */
function urls(p: ProxySettings): { http: string; https: string } {
  const http = p.http ?? p.https;
  const https = p.https ?? p.http;
  if (!http || !https) throw new UsageError("proxy needs http or https");
  checkUrl(http, "http");
  checkUrl(https, "https");
  for (const e of p.noProxy) {
    if (!/^[^\s",\\%]+$/.test(e)) throw new UsageError(`proxy.noProxy entry ${JSON.stringify(e)} must not hold spaces, commas, quotes, backslashes or '%'`);
  }
  return { http, https };
}

/** A short description for plan lines: "http://***@proxy:3128" or "http http://a:1, https https://b:2". */
function describe(p: ProxySettings): string {
  const u = urls(p);
  return u.http === u.https ? redactProxyUrl(u.http) : `http ${redactProxyUrl(u.http)}, https ${redactProxyUrl(u.https)}`;
}

const hasCredentials = (p: ProxySettings): boolean => proxySecrets(p).length > 0;

/**
 * The apt.conf.d file: Acquire::http::Proxy and Acquire::https::Proxy, and "DIRECT" for each of the
 * inventory's own noProxy entries that apt can express, a single host name or IPv4 address without a port
 * (apt.conf(5): Acquire::http::Proxy::<host>; apt has no NO_PROXY, no domain suffixes and no CIDRs), so a
 * package mirror on your network can be reached without the proxy.
 */
export function renderAptProxyConf(p: ProxySettings): string {
  const u = urls(p);
  const direct = (p.direct ?? []).filter((e) => /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(e));
  return [
    "// Written by kubesmith (proxy); change the inventory, not this file.",
    `Acquire::http::Proxy "${u.http}";`,
    `Acquire::https::Proxy "${u.https}";`,
    ...direct.flatMap((h) => [`Acquire::http::Proxy::${h} "DIRECT";`, `Acquire::https::Proxy::${h} "DIRECT";`]),
    "",
  ].join("\n");
}

/** A value inside a systemd Environment="…" word: "%" is a specifier character and is written "%%". */
function systemdEnvValue(v: string): string {
  if (/["\\\n]/.test(v)) throw new UsageError(`proxy value ${JSON.stringify(redactProxyUrl(v))} must not hold quotes, backslashes or line breaks`);
  return v.replace(/%/g, "%%");
}

/** A systemd drop-in for containerd or the kubelet: HTTP_PROXY, HTTPS_PROXY, NO_PROXY. */
export function renderProxyDropIn(p: ProxySettings): string {
  const u = urls(p);
  return [
    "# Written by kubesmith (proxy); change the inventory, not this file.",
    "[Service]",
    `Environment="HTTP_PROXY=${systemdEnvValue(u.http)}"`,
    `Environment="HTTPS_PROXY=${systemdEnvValue(u.https)}"`,
    `Environment="NO_PROXY=${systemdEnvValue(p.noProxy.join(","))}"`,
    "",
  ].join("\n");
}

/**
 * awk over dnf.conf/yum.conf with the proxy URL in ENVIRON["KS_PROXY"] ("" = none): drops kubesmith's
 * own lines, sets a user's `proxy=` in [main] aside (restored when KS_PROXY is empty) and, with a proxy,
 * writes the mark and `proxy=URL` right after the [main] header. The URL travels in the environment,
 * never in argv.
 */
export const DNF_PROXY_AWK = [
  `BEGIN { p = ENVIRON["KS_PROXY"]; mark = ${JSON.stringify(DNF_PROXY_MARK)}; aside = ${JSON.stringify(DNF_SET_ASIDE)} }`,
  "/^\\[/ { sec = $0 }",
  "skip { skip = 0; next }",
  "$0 == mark { skip = 1; next }",
  'sec ~ /^\\[main\\]/ && index($0, aside) == 1 { if (p == "") print substr($0, length(aside) + 1); else print; next }',
  'sec ~ /^\\[main\\]/ && /^[ \\t]*proxy[ \\t]*=/ && p != "" { print aside $0; next }',
  "{ print }",
  '/^\\[main\\][ \\t]*$/ && p != "" { print mark; print "proxy=" p }',
].join("\n");

function dnfProxyStep(pm: PackageManager, p: ProxySettings | undefined): Step {
  const conf = dnfConfPath(pm);
  const secret = p !== undefined && hasCredentials(p);
  // dnf's `proxy` applies to every scheme; kubespray writes http_proxy there: http, else https.
  const url = p ? urls(p).http : "";
  const value = secret ? '"$want"' : quote(url);
  const transformed = `KS_PROXY=${value} awk ${quote(DNF_PROXY_AWK)} ${quote(conf)}`;
  const tmp = `${conf}.kubesmith-tmp`;
  const step: Step = {
    id: "dnf-proxy",
    what: p ? `set proxy=${redactProxyUrl(url)} in ${conf}${secret ? " (mode 600: it holds credentials)" : ""}` : `remove kubesmith's proxy= from ${conf}`,
    probe: script(
      secret ? "want=$(cat)" : undefined,
      probeAll(
        `[ -f ${quote(conf)} ] || exit ${p ? 1 : 0}`,
        `[ "$(${transformed})" = "$(cat ${quote(conf)})" ]`,
        secret ? sh`[ "$(stat -c %a ${conf})" = 600 ]` : undefined,
      ),
    ),
    apply: script(
      APPLY_HEADER,
      secret ? "want=$(cat)" : undefined,
      p ? sh`[ -f ${conf} ] || { mkdir -p ${conf.replace(/\/[^/]*$/, "")}; printf '[main]\\n' > ${conf}; }` : sh`[ -f ${conf} ] || exit 0`,
      sh`grep -q '^\\[main\\]' ${conf} || printf '[main]\\n' >> ${conf}`,
      secret ? `(umask 077 && ${transformed} > ${quote(tmp)})` : `${transformed} > ${quote(tmp)}`,
      secret ? sh`chmod 600 ${tmp}` : sh`chmod --reference=${conf} ${tmp}`,
      sh`mv -f ${tmp} ${conf}`,
    ),
  };
  if (secret) {
    step.stdin = url;
    step.secrets = proxySecrets(p);
  }
  return step;
}

function withSecrets(step: Step, p: ProxySettings): Step {
  if (step.secrets) step.secrets = [...new Set([...step.secrets, ...proxySecrets(p)])];
  return step;
}

function proxyFile(path: string, content: string, p: ProxySettings): ManagedFile {
  // 0600 always: the file may hold credentials, and neither apt nor systemd needs others to read it.
  return { path, content, mode: 0o600, ...(hasCredentials(p) ? { secret: true } : {}) };
}

/**
 * The package manager's proxy step: apt.conf.d file (apt) or proxy= in dnf.conf/yum.conf; without a proxy,
 * the step that removes kubesmith's setting (a passing probe when there is none).
 */
export function packageProxyStep(pm: PackageManager, p: ProxySettings | undefined): Step {
  if (pm !== "apt") return dnfProxyStep(pm, p);
  if (!p) {
    return {
      id: "apt-proxy",
      what: `remove ${APT_PROXY_CONF}`,
      probe: sh`[ ! -e ${APT_PROXY_CONF} ]`,
      apply: script(APPLY_HEADER, sh`rm -f ${APT_PROXY_CONF}`),
    };
  }
  return withSecrets(
    fileStep({ id: "apt-proxy", what: `write ${APT_PROXY_CONF} (apt through ${describe(p)})`, file: proxyFile(APT_PROXY_CONF, renderAptProxyConf(p), p) }),
    p,
  );
}

/** Restart a unit after its drop-in changed: daemon-reload, then restart (only when running, for the kubelet). */
function restartLines(unit: "containerd" | "kubelet"): string[] {
  return ["systemctl daemon-reload", unit === "containerd" ? "systemctl restart containerd" : "if systemctl is-active --quiet kubelet; then systemctl restart kubelet; fi"];
}

/** The systemd drop-in of containerd or the kubelet (after the unit is installed), or its removal. */
export function serviceProxyStep(unit: "containerd" | "kubelet", p: ProxySettings | undefined): Step {
  const path = unit === "containerd" ? CONTAINERD_PROXY_DROPIN : KUBELET_PROXY_DROPIN;
  if (!p) {
    return {
      id: `${unit}-proxy`,
      what: `remove ${path}, restart ${unit}`,
      probe: sh`[ ! -e ${path} ]`,
      apply: script(APPLY_HEADER, sh`rm -f ${path}`, ...restartLines(unit)),
    };
  }
  return withSecrets(
    fileStep({
      id: `${unit}-proxy`,
      what: `write ${path} (HTTP_PROXY/HTTPS_PROXY ${describe(p)}, NO_PROXY ${p.noProxy.length} entries), restart ${unit}`,
      file: proxyFile(path, renderProxyDropIn(p), p),
      after: restartLines(unit),
    }),
    p,
  );
}

/** The control-plane endpoint's host as the inventory gives it: the VIP or the load balancer without its port. */
function endpointHostOf(inv: Inventory): string | undefined {
  const cpe = inv.cluster.controlPlaneEndpoint;
  if (!cpe) return undefined;
  if ("vip" in cpe) return cpe.vip;
  return /^(.*?)(?::\d+)?$/.exec(cpe.loadBalancer)![1];
}

/** The inventory's proxy with its NO_PROXY computed (noProxyList), or undefined when it sets none. */
export function proxySettingsFor(inv: Inventory): ProxySettings | undefined {
  const p = inv.proxy;
  if (!p) return undefined;
  return {
    http: p.http,
    https: p.https,
    direct: p.noProxy,
    noProxy: noProxyList({
      user: p.noProxy,
      hosts: inv.hosts,
      podCIDR: inv.cluster.podCIDR,
      serviceCIDR: inv.cluster.serviceCIDR,
      vips: [
        ...(inv.cluster.controlPlaneEndpoint && "vip" in inv.cluster.controlPlaneEndpoint ? [inv.cluster.controlPlaneEndpoint.vip] : []),
        ...(inv.cluster.edgeVIP ? [inv.cluster.edgeVIP.vip] : []),
      ],
      endpointHost: endpointHostOf(inv),
    }),
  };
}
