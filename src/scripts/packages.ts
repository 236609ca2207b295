// Host packages and services: the one home of everything that installs, holds, purges or refreshes
// packages and enables, starts, stops or restarts systemd units. One implementation per package manager
// (apt; dnf and yum); the distro configurers (distro/), keepalived.ts, reset.ts and the host add-on
// bundles (addons/hostapply.ts) all build their scripts from here, so no other file branches on the
// package manager's name.
//
// The package index: install fragments never refresh it themselves. A Step whose apply installs says so
// (Step.packageIndex use "install"), a Step that adds or changes a repository says that (use
// "repository"); the step runner (phases/packages.ts) refreshes the index before an install only when this
// run has not refreshed it on that host yet, or a repository changed since. Probes never refresh.
//
// Transient failures (another apt/dnf holding the lock, a DNS hiccup, a mirror answering 5xx, a dropped
// connection) are recognised by transientPackageFailure() below and retried by the step runner; every
// other failure (unknown package, bad signature, dependency problem) is final.
import { UsageError } from "../errors.js";
import { quote, sh } from "../ssh/quote.js";
import { APPLY_HEADER, probeAll, script, type Step } from "./step.js";

export type PackageManager = "apt" | "dnf" | "yum";

export interface InstallOptions {
  /**
   * A pinned version may replace the installed one even when it is older or held: apt
   * --allow-downgrades --allow-change-held-packages. dnf/yum need nothing for that.
   */
  replaceHeld?: boolean;
  /** dnf/yum --disableexcludes=REPO: install what REPO's exclude= line keeps from updates. */
  disableExcludes?: string;
}

export interface PackageTool {
  readonly manager: PackageManager;
  readonly family: "debian" | "rhel";
  /** Probe check: each package is installed. */
  installedProbe(pkgs: readonly string[]): string;
  /** A package at a version (pattern) as the manager writes it: apt name=1.33.*, dnf name-1.33.*. */
  versioned(name: string, version: string): string;
  /** Apply fragment installing packages. No index refresh: see the file comment. */
  install(pkgs: readonly string[], opts?: InstallOptions): string;
  /** Apply fragment keeping packages at their version (apt-mark hold); undefined where a repository's exclude line does it (dnf). */
  hold(pkgs: readonly string[]): string | undefined;
  /** The index refresh: apt-get update, dnf makecache. */
  refreshIndex(): string;
  /** Apply fragment removing packages with their configuration (nothing to do for one not installed). */
  purge(pkgs: readonly string[]): string;
  /** Probe check: none of the packages is installed. */
  absentProbe(pkgs: readonly string[]): string;
}

// ------------------------------------------------------------------------------------ dpkg-query table
// A probe asks dpkg-query once per package it checks; a phase's probe script (phases/steps.ts probeScript)
// checks a dozen. So a package's status is written as `${VAR-$(dpkg-query … PKG)}`: a script that defines
// VAR (dpkgTable below: one dpkg-query for every package its probes name) answers from it, any other (an
// apply, a re-probe after an apply, a probe on its own) asks dpkg-query as before. Issue 12: 8 of a
// worker's 20 simulated commands in a converged `up` were these.

/** The probe script's variable for one package and format: __ks_dpkg_<name, [^A-Za-z0-9] as _HEX>_s|_sv. */
function dpkgVar(pkg: string, withVersion: boolean): string {
  return `__ks_dpkg_${pkg.replace(/[^A-Za-z0-9]/g, (c) => `_${c.charCodeAt(0).toString(16)}`)}_${withVersion ? "sv" : "s"}`;
}

const STATUS_FORMAT = { s: "${Status}", sv: "${Status} ${Version}" } as const;

/**
 * What `dpkg-query -W -f='${Status}'` (or `'${Status} ${Version}'`) prints for `pkg`, as a word to put in
 * double quotes: from the probe script's table when it has one, else from dpkg-query itself.
 */
export function dpkgStatus(pkg: string, withVersion: boolean): string {
  if (!/^[a-z0-9][a-z0-9.+-]*$/.test(pkg)) throw new UsageError(`invalid Debian package name ${JSON.stringify(pkg)}`);
  return `\${${dpkgVar(pkg, withVersion)}-$(dpkg-query -W -f='${STATUS_FORMAT[withVersion ? "sv" : "s"]}' ${quote(pkg)} 2>/dev/null)}`;
}

const DPKG_STATUS_RE = /\$\{__ks_dpkg_[A-Za-z0-9_]+_(s|sv)-\$\(dpkg-query -W -f='[^']*' '([a-z0-9][a-z0-9.+-]*)' 2>\/dev\/null\)\}/g;

/**
 * For a read-only script that runs the given probes: one dpkg-query for every package they ask about (see
 * dpkgStatus), its lines read into their variables with shell builtins; undefined when they ask about
 * none. A package dpkg-query does not know leaves its variables empty, as its own answer would be.
 */
export function dpkgTable(probes: readonly string[]): string | undefined {
  const names = new Set<string>();
  for (const p of probes) for (const m of p.matchAll(DPKG_STATUS_RE)) names.add(m[2]!);
  if (names.size === 0) return undefined;
  const list = [...names];
  return [
    `__ks_t=$(dpkg-query -W -f='\${Package}\\t\${Status}\\t\${Version}\\n' ${list.map(quote).join(" ")} 2>/dev/null)`,
    list.map((n) => `${dpkgVar(n, false)}= ${dpkgVar(n, true)}=`).join(" "),
    "while IFS='\t' read -r __p __s __v; do",
    "  case $__p in",
    ...list.map((n) => `    ${quote(n)}) ${dpkgVar(n, false)}=$__s ${dpkgVar(n, true)}="$__s $__v" ;;`),
    "  esac",
    "done <<__KS_DPKG__",
    "$__ks_t",
    "__KS_DPKG__",
  ].join("\n");
}

function checkNames(pkgs: readonly string[]): readonly string[] {
  if (pkgs.length === 0) throw new UsageError("no packages given");
  return pkgs;
}

/** Debian/Ubuntu. */
const apt: PackageTool = {
  manager: "apt",
  family: "debian",
  installedProbe: (pkgs) =>
    checkNames(pkgs)
      .map((p) => `case "${dpkgStatus(p, false)}" in *' ok installed') ;; *) exit 1;; esac`)
      .join("\n"),
  versioned: (name, version) => `${name}=${version}`,
  install: (pkgs, o = {}) =>
    script(
      "export DEBIAN_FRONTEND=noninteractive",
      `apt-get install -y -q ${o.replaceHeld ? "--allow-downgrades --allow-change-held-packages " : ""}${sh`${[...checkNames(pkgs)]}`}`,
    ),
  hold: (pkgs) => sh`apt-mark hold ${[...checkNames(pkgs)]}`,
  refreshIndex: () => "apt-get update -q",
  purge: (pkgs) => sh`DEBIAN_FRONTEND=noninteractive apt-get purge -y -q ${[...checkNames(pkgs)]}`,
  absentProbe: (pkgs) =>
    checkNames(pkgs)
      .map((p) => `case "${dpkgStatus(p, false)}" in *' ok installed') exit 1;; esac`)
      .join("\n"),
};

/** RHEL-likes: dnf, or yum where only yum exists; `pm` is one of the two fixed names and written as it is. */
function rpmTool(pm: "dnf" | "yum"): PackageTool {
  return {
    manager: pm,
    family: "rhel",
    installedProbe: (pkgs) => sh`rpm -q ${[...checkNames(pkgs)]} >/dev/null 2>&1`,
    versioned: (name, version) => `${name}-${version}`,
    install: (pkgs, o = {}) => {
      // A repository id is a plain word (dnf: letters, digits, - _ . :); anything else is refused, not quoted.
      if (o.disableExcludes !== undefined && !/^[A-Za-z0-9_.:-]+$/.test(o.disableExcludes)) {
        throw new UsageError(`repository id ${JSON.stringify(o.disableExcludes)} is not a plain word`);
      }
      const flags = o.disableExcludes ? `--disableexcludes=${o.disableExcludes} ` : "";
      return `${pm} install -y ${flags}${sh`${[...checkNames(pkgs)]}`}`;
    },
    hold: () => undefined,
    refreshIndex: () => `${pm} makecache -q`,
    purge: (pkgs) => `${pm} remove -y ${sh`${[...checkNames(pkgs)]}`}`,
    absentProbe: (pkgs) => checkNames(pkgs).map((p) => sh`! rpm -q ${p} >/dev/null 2>&1`).join("\n"),
  };
}

const dnf = rpmTool("dnf");
const yum = rpmTool("yum");

export function packageTool(pm: PackageManager): PackageTool {
  if (pm === "apt") return apt;
  if (pm === "dnf") return dnf;
  if (pm === "yum") return yum;
  throw new UsageError(`unsupported package manager ${JSON.stringify(pm)}; kubesmith supports apt, dnf and yum`);
}

// ---------------------------------------------------------------------------------------------------
// steps

export interface InstallStepOptions extends InstallOptions {
  id: string;
  what: string;
  /** What to install (names, or tool.versioned(...) specs). */
  pkgs: readonly string[];
  /** Probe checks; default: each of `pkgs` installed. */
  probe?: string[];
  /** Hold these afterwards (apt-mark hold; nothing on dnf). */
  hold?: readonly string[];
}

/** A step installing packages; the step runner refreshes the index first when it must (see the file comment). */
export function installStep(tool: PackageTool, o: InstallStepOptions): Step {
  return {
    id: o.id,
    what: o.what,
    probe: probeAll(...(o.probe ?? [tool.installedProbe(o.pkgs)])),
    apply: script(APPLY_HEADER, tool.install(o.pkgs, o), o.hold ? tool.hold(o.hold) : undefined),
    packageIndex: { manager: tool.manager, use: "install" },
  };
}

/** Mark a step as one that adds or changes a package repository: the next install refreshes the index. */
export function repositoryStep(tool: PackageTool, s: Step): Step {
  return { ...s, packageIndex: { manager: tool.manager, use: "repository" } };
}

const UNIT_RE = /^[A-Za-z0-9@._-]+$/;
/** A systemd unit name as kubesmith writes it into scripts: letters, digits, @ . _ - only. */
export function checkUnit(unit: string): string {
  if (!UNIT_RE.test(unit)) throw new UsageError(`service name '${unit}' is not a valid systemd unit name`);
  return unit;
}

/** Enable a unit (and start it, with `start`), now and at boot. */
export function serviceEnabledStep(o: { id: string; what?: string; unit: string; start: boolean }): Step {
  const u = checkUnit(o.unit);
  return {
    id: o.id,
    what: o.what ?? (o.start ? `enable and start ${u}` : `enable ${u}`),
    probe: probeAll(sh`systemctl is-enabled --quiet ${u}`, o.start ? sh`systemctl is-active --quiet ${u}` : undefined),
    apply: script(APPLY_HEADER, o.start ? sh`systemctl enable --now ${u}` : sh`systemctl enable ${u}`),
  };
}

/** Stop and disable a unit (a unit that does not exist counts as stopped and disabled). */
export function serviceStoppedStep(o: { id: string; what: string; unit: string }): Step {
  const u = checkUnit(o.unit);
  return {
    id: o.id,
    what: o.what,
    probe: script(sh`! systemctl is-active --quiet ${u} || exit 1`, sh`! systemctl is-enabled --quiet ${u}`),
    apply: script(APPLY_HEADER, sh`systemctl stop ${u} || true`, sh`systemctl disable ${u} || true`),
  };
}

/** Fragment: restart a unit when it runs (a stopped one picks its configuration up when it starts). */
export function restartIfActive(unit: string): string {
  const u = checkUnit(unit);
  return sh`if systemctl is-active --quiet ${u}; then systemctl restart ${u}; fi`;
}

// ---------------------------------------------------------------------------------------------------
// transient failures

/**
 * What makes a failed package-manager command worth trying again, matched on its output. Each pattern is
 * the upstream message:
 *  - apt, another apt/dpkg holds a lock: apt-pkg/contrib/fileutl.cc GetLock, "Could not get lock %s. It is
 *    held by process %d (%s)" (older: "Could not get lock %s - open (11: Resource temporarily
 *    unavailable)"); followed by apt-pkg/deb/debsystem.cc "Unable to acquire the dpkg frontend lock (%s),
 *    is another process using it?" or apt-get's "Unable to lock directory %s". Not the "(13: Permission
 *    denied)" variant: that is not running as root, and final.
 *  - apt, name resolution: methods/connect.cc, EAI_AGAIN → "Temporary failure resolving '%s'" (while
 *    EAI_NONAME → "Could not resolve '%s'" is a wrong host name, final).
 *  - apt, a mirror answering 5xx: "E: Failed to fetch URL  503  Service Unavailable [IP: …]" (the HTTP
 *    status line as the server sent it, apt-pkg/acquire-item.cc).
 *  - apt, a dropped connection: methods/connect.cc / basehttp.cc "Could not connect to %s:%s (%s)" with
 *    "Connection timed out" or "Connection refused", and "Connection reset by peer" (strerror(ECONNRESET)).
 *  - dnf 4: "Status code: 503 for URL (IP: …)" (librepo) in "Errors during downloading metadata for
 *    repository"; libcurl "Curl error (7): Couldn't connect to server", (28) "Timeout was reached",
 *    (56) "Failure when receiving data from the peer" / "Connection reset by peer".
 *  - dnf 5 does not wait for another transaction: "Failed to obtain rpm transaction lock. Another
 *    transaction is in progress." (libdnf5/base/transaction.cpp).
 * Anything else, e.g. apt "Unable to locate package", "NO_PUBKEY", "unmet dependencies", dnf "No match
 * for argument", "GPG check FAILED", is a real error.
 */
const TRANSIENT: ReadonlyArray<readonly [RegExp, string]> = [
  [/Could not get lock \S+\.? (It is held by process \d+|- open \(11: Resource temporarily unavailable\))/, "package manager lock held by another process"],
  [/Unable to acquire the dpkg frontend lock .*is another process using it\?/, "package manager lock held by another process"],
  [/Failed to obtain rpm transaction lock/, "rpm transaction lock held by another transaction"],
  [/Temporary failure resolving '[^']*'/, "temporary DNS failure"],
  [/Failed to fetch \S+\s+5\d\d\s/, "mirror answered HTTP 5xx"],
  [/Status code: 5\d\d for /, "mirror answered HTTP 5xx"],
  [/Connection reset by peer/, "connection reset"],
  [/Could not connect to \S+ \(.*(Connection timed out|Connection refused)/, "could not connect to the mirror"],
  [/Curl error \((7|28|52|56)\):/, "could not reach the mirror"],
];

/** Why a failed package-manager command's output is a transient failure; undefined: a real error. */
export function transientPackageFailure(output: string): string | undefined {
  for (const [re, why] of TRANSIENT) if (re.test(output)) return why;
  return undefined;
}
