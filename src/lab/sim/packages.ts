// apt-get, apt-mark, dpkg, dpkg-query (Debian family) and dnf/yum, rpm (RHEL family) over a
// simulated package database in the host's /var/lib/kubesim. Nothing is downloaded or installed.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { K8S_DEFAULT_VERSION, SIM_VAR, fail, parseArgs, readJson, writeJson, type Sim } from "./util.js";

interface Pkg {
  version: string;
  installedAt: string;
}
export interface PkgDb {
  installed: Record<string, Pkg>;
  held: string[];
  updatedAt?: string;
}

const DB = path.join(SIM_VAR, "packages.json");
export const K8S_PACKAGES = ["kubeadm", "kubelet", "kubectl", "kubernetes-cni", "cri-tools"];

export function loadDb(): PkgDb {
  return readJson<PkgDb>(DB, { installed: {}, held: [] });
}
function saveDb(db: PkgDb): void {
  writeJson(DB, db);
}

/** Installed version of a package, or undefined. */
export function installedVersion(name: string): string | undefined {
  return loadDb().installed[name]?.version;
}

/** "1.33.2-1.1" -> "1.33.2" */
export function upstream(version: string): string {
  return version.replace(/^\d+:/, "").replace(/-.*$/, "");
}

/** The Kubernetes minor the host's package sources point at (pkgs.k8s.io/core:/stable:/v1.NN/). */
function repoMinor(): string {
  const dirs = ["/etc/apt/sources.list.d", "/etc/yum.repos.d"];
  for (const d of dirs) {
    let files: string[] = [];
    try {
      files = readdirSync(d);
    } catch {
      continue;
    }
    for (const f of files) {
      try {
        const m = /pkgs\.k8s\.io\/core:\/stable:\/v(1\.\d+)\//.exec(readFileSync(path.join(d, f), "utf8"));
        if (m) return m[1]!;
      } catch {
        /* unreadable */
      }
    }
  }
  return K8S_DEFAULT_VERSION.split(".").slice(0, 2).join(".");
}

function candidate(name: string, family: "debian" | "rhel"): string {
  if (K8S_PACKAGES.includes(name)) {
    if (name === "kubernetes-cni") return family === "debian" ? "1.6.0-1.1" : "1.6.0-150500.1.1";
    if (name === "cri-tools") return family === "debian" ? "1.33.0-1.1" : "1.33.0-150500.1.1";
    return family === "debian" ? `${repoMinor()}.2-1.1` : `${repoMinor()}.2-150500.1.1`;
  }
  if (name === "containerd" || name === "containerd.io") return family === "debian" ? "1.7.24~ds1-1" : "1.7.27-3.1.el9";
  return "1.0-1";
}

const VERSION_RE = /^(\d+:)?\d+(\.\d+)*([-~+.][\w.~+-]*)?$/;

function requireFamily(sim: Sim, tool: string, family: "debian" | "rhel"): void {
  if (sim.os().family !== family) fail(127, `bash: line 1: ${tool}: command not found`);
}

// ---------------------------------------------------------------------------------------------- apt

export function aptGet(sim: Sim, args: string[]): number {
  requireFamily(sim, "apt-get", "debian");
  const { flags, pos } = parseArgs(args, ["y", "q", "yes", "assume-yes", "quiet", "allow-change-held-packages", "allow-downgrades", "no-install-recommends", "purge"]);
  const [cmd, ...pkgs] = pos;
  const yes = flags.has("y") || flags.has("yes") || flags.has("assume-yes");
  const changeHeld = flags.has("allow-change-held-packages");
  if (!cmd) fail(100, "E: No command given (try apt-get install)");
  const needsRoot = ["update", "install", "remove", "purge", "upgrade", "dist-upgrade", "autoremove"];
  if (needsRoot.includes(cmd) && !sim.isRoot) {
    fail(100, "E: Could not open lock file /var/lib/dpkg/lock-frontend - open (13: Permission denied)\nE: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), are you root?");
  }
  const db = loadDb();
  switch (cmd) {
    case "update":
      sim.out("Hit:1 http://deb.debian.org/debian bookworm InRelease\nReading package lists... Done\n");
      db.updatedAt = new Date().toISOString();
      saveDb(db);
      return 0;
    case "install": {
      const plan: [string, string][] = [];
      for (const spec of pkgs) {
        const [name, ver] = spec.split("=", 2) as [string, string | undefined];
        if (!/^[a-z0-9][a-z0-9+.-]+$/.test(name)) fail(100, `E: Unable to locate package ${name}`);
        if (ver !== undefined && !VERSION_RE.test(ver)) fail(100, `E: Version '${ver}' for '${name}' was not found`);
        plan.push([name, ver ?? db.installed[name]?.version ?? candidate(name, "debian")]);
      }
      sim.out("Reading package lists... Done\nBuilding dependency tree... Done\n");
      const changes = plan.filter(([n, v]) => db.installed[n]?.version !== v);
      const heldChanged = changes.filter(([n]) => db.held.includes(n) && db.installed[n]);
      if (heldChanged.length) {
        sim.out(`The following held packages will be changed:\n  ${heldChanged.map(([n]) => n).join(" ")}\n`);
        if (!changeHeld) fail(100, "E: Held packages were changed and -y was used without --allow-change-held-packages.");
      }
      for (const [n, v] of plan) if (db.installed[n]?.version === v) sim.out(`${n} is already the newest version (${v}).\n`);
      if (changes.length === 0) {
        sim.out("0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n");
        return 0;
      }
      if (!yes) {
        sim.out("Do you want to continue? [Y/n] ");
        fail(1, "Abort.");
      }
      for (const [n, v] of changes) {
        sim.out(`Setting up ${n} (${v}) ...\n`);
        db.installed[n] = { version: v, installedAt: new Date().toISOString() };
      }
      saveDb(db);
      return 0;
    }
    case "remove":
    case "purge": {
      const held = pkgs.filter((p) => db.held.includes(p) && db.installed[p]);
      if (held.length && !changeHeld) fail(100, "E: Held packages were changed and -y was used without --allow-change-held-packages.");
      for (const p of pkgs) {
        if (db.installed[p]) {
          sim.out(`Removing ${p} (${db.installed[p]!.version}) ...\n`);
          delete db.installed[p];
        } else sim.out(`Package '${p}' is not installed, so not removed\n`);
      }
      saveDb(db);
      return 0;
    }
    case "upgrade":
    case "dist-upgrade":
    case "autoremove":
    case "clean":
      sim.out("0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n");
      return 0;
    default:
      fail(100, `E: Invalid operation ${cmd}`);
  }
}

export function aptMark(sim: Sim, args: string[]): number {
  requireFamily(sim, "apt-mark", "debian");
  const [cmd, ...pkgs] = args.filter((a) => !a.startsWith("-"));
  const db = loadDb();
  if (cmd === "showhold") {
    for (const p of [...db.held].sort()) sim.out(`${p}\n`);
    return 0;
  }
  if (cmd !== "hold" && cmd !== "unhold") fail(100, `E: Invalid operation ${cmd ?? ""}`);
  if (!sim.isRoot) fail(100, "E: Could not create temporary file for /var/lib/apt/extended_states - mkstemp (13: Permission denied)");
  for (const p of pkgs) {
    if (!db.installed[p]) fail(100, `E: Unable to locate package ${p}`);
    const isHeld = db.held.includes(p);
    if (cmd === "hold") {
      sim.out(isHeld ? `${p} was already set on hold.\n` : `${p} set on hold.\n`);
      if (!isHeld) db.held.push(p);
    } else {
      sim.out(isHeld ? `Canceled hold on ${p}.\n` : `${p} was already not on hold.\n`);
      db.held = db.held.filter((h) => h !== p);
    }
  }
  saveDb(db);
  return 0;
}

/** Packages not in the simulated db are asked of the machine's real dpkg-query (read-only). */
function realDpkgQuery(sim: Sim, args: string[]): number {
  if (!existsSync("/usr/bin/dpkg-query")) return 1;
  const r = spawnSync("/usr/bin/dpkg-query", args, { encoding: "utf8" });
  sim.out(r.stdout ?? "");
  if (r.stderr) sim.err(r.stderr);
  return r.status ?? 1;
}

function dpkgList(sim: Sim, names: string[]): number {
  const db = loadDb();
  const ours = names.length ? names.filter((n) => db.installed[n]) : Object.keys(db.installed).sort();
  const rest = names.filter((n) => !db.installed[n]);
  sim.out(
    "Desired=Unknown/Install/Remove/Purge/Hold\n| Status=Not/Inst/Conf-files/Unpacked/halF-conf/Half-inst/trig-aWait/Trig-pend\n|/ Err?=(none)/Reinst-required (Status,Err: uppercase=bad)\n||/ Name           Version      Architecture Description\n+++-==============-============-============-=================================\n",
  );
  for (const n of ours) {
    const held = db.held.includes(n) ? "hi" : "ii";
    sim.out(`${held}  ${n.padEnd(14)} ${db.installed[n]!.version.padEnd(12)} amd64        ${n} (simulated)\n`);
  }
  if (rest.length === 0) return 0;
  const r = spawnSync("/usr/bin/dpkg-query", ["-l", ...rest], { encoding: "utf8" });
  sim.out((r.stdout ?? "").split("\n").filter((l) => /^[a-z]{2}[ R]/.test(l)).map((l) => `${l}\n`).join(""));
  if (r.stderr) sim.err(r.stderr);
  return r.status ?? 1;
}

export function dpkg(sim: Sim, args: string[]): number {
  requireFamily(sim, "dpkg", "debian");
  if (args[0] === "-l" || args[0] === "--list") return dpkgList(sim, args.slice(1));
  if (args[0] === "-s" || args[0] === "--status" || args[0] === "-W" || args[0] === "--show") return dpkgQuery(sim, args);
  if (args[0] === "--print-architecture") {
    sim.out("amd64\n");
    return 0;
  }
  fail(2, `dpkg: error: the simulated dpkg supports -l, -s, -W and --print-architecture only (got ${args.join(" ")})`);
}

export function dpkgQuery(sim: Sim, args: string[]): number {
  requireFamily(sim, "dpkg-query", "debian");
  const db = loadDb();
  let fmt = "${Package}\t${Version}\n";
  let mode = "";
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-W" || a === "--show") mode = "W";
    else if (a === "-s" || a === "--status") mode = "s";
    else if (a === "-l" || a === "--list") mode = "l";
    else if (a.startsWith("-f=") || a.startsWith("--showformat=")) fmt = a.slice(a.indexOf("=") + 1);
    else if (a === "-f" || a === "--showformat") fmt = args[++i] ?? fmt;
    else names.push(a);
  }
  if (mode === "l") return dpkgList(sim, names);
  let code = 0;
  const rest: string[] = [];
  for (const n of names) {
    const p = db.installed[n];
    if (!p) {
      rest.push(n);
      continue;
    }
    const status = `${db.held.includes(n) ? "hold" : "install"} ok installed`;
    if (mode === "s") {
      sim.out(`Package: ${n}\nStatus: ${status}\nArchitecture: amd64\nVersion: ${p.version}\nDescription: ${n} (simulated)\n\n`);
    } else {
      sim.out(
        fmt
          .replace(/\$\{(binary:)?Package\}/g, n)
          .replace(/\$\{Version\}/g, p.version)
          .replace(/\$\{(db:)?Status(-Abbrev)?\}/g, (_m, _db, abbrev) => (abbrev ? "ii " : status))
          .replace(/\$\{Architecture\}/g, "amd64")
          .replace(/\\n/g, "\n")
          .replace(/\\t/g, "\t"),
      );
    }
  }
  if (rest.length) {
    const flagArgs = mode === "s" ? ["-s"] : ["-W", `-f=${fmt}`];
    code = realDpkgQuery(sim, [...flagArgs, ...rest]);
  }
  return code;
}

// ---------------------------------------------------------------------------------------------- dnf

function splitRpmSpec(spec: string): [string, string | undefined] {
  const m = /^(.+?)-(\d[\w.+~]*(-[\w.+~]+)?)$/.exec(spec);
  return m ? [m[1]!, m[2]] : [spec, undefined];
}

export function dnf(sim: Sim, tool: string, args: string[]): number {
  requireFamily(sim, tool, "rhel");
  const { flags, pos } = parseArgs(args, ["y", "q", "assumeyes", "quiet", "allowerasing", "nogpgcheck"]);
  const [cmd, ...rest] = pos;
  const yes = flags.has("y") || flags.has("assumeyes");
  const disabled = (flags.get("disableexcludes") ?? []).length > 0;
  const db = loadDb();
  const rootOnly = () => {
    if (!sim.isRoot) fail(1, "Error: This command has to be run with superuser privileges (under the root user on most systems).");
  };
  switch (cmd) {
    case "makecache":
    case "check-update":
      rootOnly();
      sim.out("Metadata cache created.\n");
      return 0;
    case "install":
    case "update":
    case "upgrade": {
      rootOnly();
      const plan: [string, string][] = [];
      for (const spec of rest) {
        if (spec.startsWith("dnf-command(") || spec.includes("versionlock")) {
          plan.push(["python3-dnf-plugin-versionlock", "4.3.0-16.el9"]);
          continue;
        }
        const [name, ver] = splitRpmSpec(spec);
        plan.push([name, ver ?? db.installed[name]?.version ?? candidate(name, "rhel")]);
      }
      const changes = plan.filter(([n, v]) => db.installed[n]?.version !== v);
      const locked = changes.filter(([n]) => db.held.includes(n) && db.installed[n]);
      if (locked.length && !disabled) {
        fail(1, `Error: \n Problem: package ${locked[0]![0]} is filtered out by versionlock (run dnf versionlock delete ${locked[0]![0]})`);
      }
      if (changes.length === 0) {
        sim.out("Dependencies resolved.\nNothing to do.\nComplete!\n");
        return 0;
      }
      if (!yes) {
        sim.out("Is this ok [y/N]: ");
        fail(1, "Operation aborted.");
      }
      for (const [n, v] of changes) {
        sim.out(`  Installing       : ${n}-${v}.x86_64\n`);
        db.installed[n] = { version: v, installedAt: new Date().toISOString() };
      }
      sim.out("Complete!\n");
      saveDb(db);
      return 0;
    }
    case "remove":
    case "erase":
      rootOnly();
      for (const n of rest) delete db.installed[n];
      saveDb(db);
      sim.out("Complete!\n");
      return 0;
    case "versionlock": {
      const [sub = "list", ...names] = rest;
      if (sub === "list") {
        for (const n of db.held) sim.out(`${n}-0:${db.installed[n]?.version ?? "*"}.*\n`);
        return 0;
      }
      rootOnly();
      if (sub === "add") {
        for (const n of names) {
          if (!db.installed[n]) fail(1, `Error: No package ${n} available.`);
          if (!db.held.includes(n)) db.held.push(n);
          sim.out(`Adding versionlock on: ${n}-0:${db.installed[n]!.version}.*\n`);
        }
      } else if (sub === "delete") {
        for (const n of names) {
          db.held = db.held.filter((h) => h !== n);
          sim.out(`Deleting versionlock for: ${n}\n`);
        }
      } else if (sub === "clear") db.held = [];
      else fail(1, `Error: Unknown versionlock command ${sub}`);
      saveDb(db);
      return 0;
    }
    case "list":
      for (const n of rest.length ? rest : Object.keys(db.installed)) {
        const p = db.installed[n];
        if (p) sim.out(`${n}.x86_64  ${p.version}  @kubernetes\n`);
      }
      return 0;
    default:
      fail(1, `No such command: ${cmd ?? ""}. Please use /usr/bin/${tool} --help`);
  }
}

export function rpm(sim: Sim, args: string[]): number {
  requireFamily(sim, "rpm", "rhel");
  const { pos } = parseArgs(args, ["q", "a"]);
  if (!args.includes("-q") && !args.includes("-qa")) fail(1, "rpm: the simulated rpm supports -q only");
  const db = loadDb();
  let code = 0;
  const names = args.includes("-qa") || (args.includes("-a")) ? Object.keys(db.installed) : pos;
  for (const n of names) {
    const p = db.installed[n];
    if (p) sim.out(`${n}-${p.version}.x86_64\n`);
    else {
      sim.out(`package ${n} is not installed\n`);
      code = 1;
    }
  }
  return code;
}
