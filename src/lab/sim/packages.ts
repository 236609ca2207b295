// apt-get, apt-mark, dpkg, dpkg-query (Debian family) and dnf/yum, rpm (RHEL family) over a
// simulated package database in the host's /var/lib/kubesim, seeded with the OS image's packages.
// What can be installed comes from repos.ts: the distribution, plus pkgs.k8s.io and Docker's
// repositories once the host has them configured (apt: after `apt-get update`). Nothing is downloaded;
// a package with commands the simulator plays (containerd) gets its shim in the host's /usr/local/bin.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { CONTAINERD_CONFIG, DOCKER_PACKAGED_CONFIG, syncPackageCommands } from "./containerd.js";
import { KEYS, dearmor, keysIn, type KeyName } from "./keys.js";
import { fetchFollow } from "./net.js";
import {
  APT_LISTS,
  aptAvailable,
  aptSources,
  baseImage,
  classifyRepo,
  compareVersions,
  distroAvailable,
  globMatch,
  hasGlob,
  newestFirst,
  osKey,
  REPLACES,
  rpmRepoAvail,
  rpmRepos,
  type AptList,
  type Avail,
} from "./repos.js";
import { SIM_VAR, fail, parseArgs, readJson, readOs, writeFile, writeJson, type Sim } from "./util.js";

interface Pkg {
  version: string;
  installedAt: string;
}
export interface PkgDb {
  installed: Record<string, Pkg>;
  held: string[];
  updatedAt?: string;
  /** dnf: ids of the signing keys imported into the rpm database. */
  gpgKeys?: string[];
}

const DB = path.join(SIM_VAR, "packages.json");
export const K8S_PACKAGES = ["kubeadm", "kubelet", "kubectl", "kubernetes-cni", "cri-tools"];

/** The host's package database; a host that never installed anything has its OS image's packages. */
export function loadDb(): PkgDb {
  const db = readJson<PkgDb | undefined>(DB, undefined);
  if (db) return db;
  const at = "2025-01-01T00:00:00.000Z";
  const installed: Record<string, Pkg> = {};
  for (const [name, version] of Object.entries(baseImage(osKey(readOs())))) installed[name] = { version, installedAt: at };
  return { installed, held: [] };
}
function saveDb(db: PkgDb): void {
  writeJson(DB, db);
}

/** Installed version of a package, or undefined. */
export function installedVersion(name: string): string | undefined {
  return loadDb().installed[name]?.version;
}

/** "1.33.2-1.1" -> "1.33.2", "1:2.2.7-1+b2" -> "2.2.7" */
export function upstream(version: string): string {
  return version.replace(/^\d+:/, "").replace(/-[^-]*$/, "");
}

function requireFamily(sim: Sim, tool: string, family: "debian" | "rhel"): void {
  if (sim.os().family !== family) fail(127, `bash: line 1: ${tool}: command not found`);
}

/** Install the planned packages into the db (and the files a package brings along). */
function installAll(sim: Sim, db: PkgDb, changes: Avail[], say: (a: Avail, before?: string) => void): void {
  for (const a of changes) {
    const before = db.installed[a.name]?.version;
    say(a, before);
    db.installed[a.name] = { version: a.version, installedAt: new Date().toISOString() };
  }
  saveDb(db);
  for (const a of changes) {
    syncPackageCommands(sim, a.name, true);
    // Docker's containerd.io ships a config.toml that turns the CRI plugin off (a conffile: kept if present).
    if (a.name === "containerd.io" && !existsSync(CONTAINERD_CONFIG)) writeFile(CONTAINERD_CONFIG, DOCKER_PACKAGED_CONFIG);
  }
}

function removeAll(sim: Sim, db: PkgDb, names: string[]): void {
  for (const n of names) delete db.installed[n];
  db.held = db.held.filter((h) => db.installed[h]);
  saveDb(db);
  for (const n of names) syncPackageCommands(sim, n, false);
}

/** Add the newest available version of each missing dependency; returns the name of one that cannot be. */
function addDependencies(plan: Map<string, Avail>, avail: Avail[], db: PkgDb): string | undefined {
  const queue = [...plan.values()];
  while (queue.length) {
    const a = queue.shift()!;
    for (const dep of a.depends ?? []) {
      if (db.installed[dep] || plan.has(dep)) continue;
      const best = newestFirst(avail.filter((x) => x.name === dep))[0];
      if (!best) return `${a.name} : Depends: ${dep} but it is not installable`;
      plan.set(dep, best);
      queue.push(best);
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------- apt

const APT_HEADER = "Reading package lists... Done\nBuilding dependency tree... Done\nReading state information... Done\n";

/** Does one of the keyrings hold the key a repository signs with? */
function aptKeyTrusted(src: { signedBy?: string }, key: KeyName): boolean {
  const files = src.signedBy
    ? [src.signedBy]
    : ["/etc/apt/trusted.gpg", ...readdirSafe("/etc/apt/trusted.gpg.d").map((f) => path.join("/etc/apt/trusted.gpg.d", f))];
  return files.some((f) => {
    try {
      return keysIn(readFileSync(f), f.endsWith(".asc")).includes(key);
    } catch {
      return false;
    }
  });
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function aptUpdate(sim: Sim, db: PkgDb): number {
  const lists: AptList[] = [];
  const errors: string[] = [];
  const warnings: string[] = [];
  let n = 0;
  for (const s of aptSources()) {
    n++;
    const kind = classifyRepo(s.uri);
    const base = s.uri.replace(/\/$/, "");
    const where = `${base} ${s.suite === "/" ? "" : s.suite} InRelease`;
    const quoted = `'${base} ${s.suite === "/" ? "" : s.suite} InRelease'`;
    if (kind.kind === "distro") {
      sim.out(`Hit:${n} ${where}\n`);
      continue;
    }
    if (kind.kind === "unreachable") {
      sim.out(`Err:${n} ${where}\n  Could not resolve '${kind.host}'\n`);
      warnings.push(`W: Failed to fetch ${base}/${s.suite === "/" ? "" : `dists/${s.suite}/`}InRelease  Could not resolve '${kind.host}'`);
      continue;
    }
    if (kind.kind === "kubernetes-missing") {
      sim.out(`Err:${n} ${where}\n  403  Forbidden [IP: 146.75.121.55 443]\n`);
      errors.push(`E: Failed to fetch ${base}/InRelease  403  Forbidden [IP: 146.75.121.55 443]`, `E: The repository ${quoted} does not have a Release file.`);
      continue;
    }
    const key: KeyName = kind.kind === "docker" ? "docker" : "kubernetes";
    if (!s.trusted && !aptKeyTrusted(s, key)) {
      const id = KEYS[key].keyId;
      sim.out(`Get:${n} ${where} [1,186 B]\nErr:${n} ${where}\n  The following signatures couldn't be verified because the public key is not available: NO_PUBKEY ${id}\n`);
      warnings.push(`W: GPG error: ${where}: The following signatures couldn't be verified because the public key is not available: NO_PUBKEY ${id}`);
      errors.push(`E: The repository ${quoted} is not signed.`);
      continue;
    }
    sim.out(`Get:${n} ${where} [1,186 B]\nGet:${n + 1} ${base} ${s.suite === "/" ? "" : `${s.suite} `}Packages [4,865 B]\n`);
    n++;
    lists.push(kind.kind === "docker" ? { uri: s.uri, kind: "docker" } : { uri: s.uri, kind: kind.kind, minor: kind.minor });
  }
  writeJson(APT_LISTS, { repos: lists, updatedAt: new Date().toISOString() });
  db.updatedAt = new Date().toISOString();
  saveDb(db);
  sim.out("Reading package lists... Done\n");
  const messages = [...warnings, ...errors];
  if (errors.length) messages.push("N: Updating from such a repository can't be done securely, and is therefore disabled by default.");
  else if (warnings.length) messages.push("W: Some index files failed to download. They have been ignored, or old ones used instead.");
  if (messages.length) sim.err(`${messages.join("\n")}\n`);
  return errors.length ? 100 : 0;
}

function aptInstall(sim: Sim, db: PkgDb, specs: string[], o: { yes: boolean; changeHeld: boolean; downgrades: boolean }): number {
  const avail = aptAvailable(osKey(sim.os()));
  sim.out(APT_HEADER);
  const plan = new Map<string, Avail>();
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const name = eq >= 0 ? spec.slice(0, eq) : spec;
    const ver = eq >= 0 ? spec.slice(eq + 1) : undefined;
    const all = avail.filter((a) => a.name === name);
    if (all.length === 0) fail(100, `E: Unable to locate package ${name}`);
    const matches = ver === undefined ? all : all.filter((a) => (hasGlob(ver) ? globMatch(ver, a.version) : a.version === ver));
    if (matches.length === 0) fail(100, `E: Version '${ver}' for '${name}' was not found`);
    plan.set(name, newestFirst(matches)[0]!);
  }
  const unmet = addDependencies(plan, avail, db);
  if (unmet) {
    sim.out(`Some packages could not be installed.\n\nThe following packages have unmet dependencies:\n ${unmet}\n`);
    fail(100, "E: Unable to correct problems, you have held broken packages.");
  }
  const changes = [...plan.values()].filter((a) => db.installed[a.name]?.version !== a.version);
  for (const a of plan.values()) if (!changes.includes(a)) sim.out(`${a.name} is already the newest version (${a.version}).\n`);
  const held = changes.filter((a) => db.held.includes(a.name) && db.installed[a.name]);
  if (held.length) {
    sim.out(`The following held packages will be changed:\n  ${held.map((a) => a.name).join(" ")}\n`);
    if (!o.changeHeld) fail(100, "E: Held packages were changed and -y was used without --allow-change-held-packages.");
  }
  const down = changes.filter((a) => db.installed[a.name] && compareVersions(a.version, db.installed[a.name]!.version) < 0);
  if (down.length) {
    sim.out(`The following packages will be DOWNGRADED:\n  ${down.map((a) => a.name).join(" ")}\n`);
    if (!o.downgrades) fail(100, "E: Packages were downgraded and -y was used without --allow-downgrades.");
  }
  // Conflicts/Replaces (containerd.io replaces containerd and runc): apt removes the replaced packages.
  const replaced = [...new Set(changes.flatMap((a) => (REPLACES[a.name] ?? []).filter((p) => db.installed[p] && !plan.has(p))))];
  const heldReplaced = replaced.filter((p) => db.held.includes(p));
  if (heldReplaced.length && !o.changeHeld) fail(100, "E: Held packages were changed and -y was used without --allow-change-held-packages.");
  if (replaced.length) sim.out(`The following packages will be REMOVED:\n  ${replaced.join(" ")}\n`);
  const fresh = changes.filter((a) => !db.installed[a.name]);
  if (fresh.length) sim.out(`The following NEW packages will be installed:\n  ${fresh.map((a) => a.name).join(" ")}\n`);
  const upgraded = changes.length - fresh.length - down.length;
  sim.out(`${upgraded} upgraded, ${fresh.length} newly installed, ${down.length ? `${down.length} downgraded, ` : ""}${replaced.length} to remove and 0 not upgraded.\n`);
  if (changes.length === 0) return 0;
  if (!o.yes) {
    sim.out("Do you want to continue? [Y/n] ");
    fail(1, "Abort.");
  }
  if (replaced.length) {
    for (const p of replaced) sim.out(`Removing ${p} (${db.installed[p]!.version}) ...\n`);
    removeAll(sim, db, replaced);
  }
  installAll(sim, db, changes, (a, before) => {
    sim.out(before ? `Preparing to unpack .../${a.name}_${a.version}_amd64.deb ...\nUnpacking ${a.name} (${a.version}) over (${before}) ...\n` : `Selecting previously unselected package ${a.name}.\nUnpacking ${a.name} (${a.version}) ...\n`);
    sim.out(`Setting up ${a.name} (${a.version}) ...\n`);
  });
  return 0;
}

export function aptGet(sim: Sim, args: string[]): number {
  requireFamily(sim, "apt-get", "debian");
  const { flags, pos } = parseArgs(args, [
    "y", "q", "qq", "yes", "assume-yes", "quiet", "allow-change-held-packages", "allow-downgrades", "no-install-recommends",
    "no-install-suggests", "purge", "f", "fix-broken", "reinstall", "allow-unauthenticated", "s", "simulate", "dry-run",
  ]);
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
      return aptUpdate(sim, db);
    case "install":
      return aptInstall(sim, db, pkgs, { yes, changeHeld, downgrades: flags.has("allow-downgrades") });
    case "remove":
    case "purge": {
      sim.out(APT_HEADER);
      const held = pkgs.filter((p) => db.held.includes(p) && db.installed[p]);
      if (held.length && !changeHeld) fail(100, "E: Held packages were changed and -y was used without --allow-change-held-packages.");
      const gone: string[] = [];
      for (const p of pkgs) {
        if (db.installed[p]) {
          sim.out(`Removing ${p} (${db.installed[p]!.version}) ...\n`);
          gone.push(p);
        } else sim.out(`Package '${p}' is not installed, so not removed\n`);
      }
      removeAll(sim, db, gone);
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

function dpkgList(sim: Sim, names: string[]): number {
  const db = loadDb();
  const ours = names.length ? names.filter((n) => db.installed[n]) : Object.keys(db.installed).sort();
  const missing = names.filter((n) => !db.installed[n]);
  sim.out(
    "Desired=Unknown/Install/Remove/Purge/Hold\n| Status=Not/Inst/Conf-files/Unpacked/halF-conf/Half-inst/trig-aWait/Trig-pend\n|/ Err?=(none)/Reinst-required (Status,Err: uppercase=bad)\n||/ Name           Version      Architecture Description\n+++-==============-============-============-=================================\n",
  );
  for (const n of ours) {
    const held = db.held.includes(n) ? "hi" : "ii";
    sim.out(`${held}  ${n.padEnd(14)} ${db.installed[n]!.version.padEnd(12)} amd64        ${n} (simulated)\n`);
  }
  for (const n of missing) sim.err(`dpkg-query: no packages found matching ${n}\n`);
  return missing.length ? 1 : 0;
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
  for (const n of names.length || mode !== "W" ? names : Object.keys(db.installed).sort()) {
    const p = db.installed[n];
    if (!p) {
      sim.err(mode === "s" ? `dpkg-query: package '${n}' is not installed and no information is available\n` : `dpkg-query: no packages found matching ${n}\n`);
      code = 1;
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
          .replace(/\$\{(db:)?Status(-Abbrev)?\}/g, (_m, _db, abbrev) => (abbrev ? (db.held.includes(n) ? "hi " : "ii ") : status))
          .replace(/\$\{Architecture\}/g, "amd64")
          .replace(/\\n/g, "\n")
          .replace(/\\t/g, "\t"),
      );
    }
  }
  return code;
}

// ---------------------------------------------------------------------------------------------- dnf

/** Import the signing keys of the repositories packages come from (dnf does it on first use, -y accepts). */
function importRpmKeys(sim: Sim, db: PkgDb, repoIds: Set<string>): void {
  for (const repo of rpmRepos().filter((r) => repoIds.has(r.id) && r.gpgcheck)) {
    for (const url of repo.gpgkeys) {
      const got = fetchFollow(url);
      if (!got.res) fail(1, `Curl error (${got.code}): ${got.error}\nError: Failed to download metadata for repo '${repo.id}': repomd.xml GPG signature verification error: Failed to retrieve GPG key for repo '${repo.id}'`);
      const bin = dearmor(got.res.body);
      const names = bin ? keysIn(bin, false) : [];
      if (names.length === 0) fail(1, `Error: Failed to download metadata for repo '${repo.id}': repomd.xml GPG signature verification error: Bad GPG signature`);
      for (const k of names) {
        const id = KEYS[k].keyId;
        if ((db.gpgKeys ??= []).includes(id)) continue;
        sim.out(`Importing GPG key 0x${id.slice(-8)}:\n Userid     : "${KEYS[k].userId}"\n From       : ${url}\nKey imported successfully\n`);
        db.gpgKeys.push(id);
      }
    }
  }
}

function dnfInstall(sim: Sim, db: PkgDb, specs: string[], o: { yes: boolean; disableExcludes: string[] }): number {
  const os = osKey(sim.os());
  const repos = rpmRepos().filter((r) => r.enabled);
  const offDisabled = (id: string) => o.disableExcludes.includes("all") || o.disableExcludes.includes(id);
  const avail: Avail[] = [...distroAvailable(os)];
  const excluded: Avail[] = [];
  for (const r of repos) {
    for (const a of rpmRepoAvail(r)) {
      if (!offDisabled(r.id) && r.exclude.some((g) => globMatch(g, a.name))) excluded.push(a);
      else avail.push(a);
    }
  }
  const matchSpec = (spec: string, a: Avail) =>
    spec === a.name || globMatch(spec, a.name) || globMatch(spec, `${a.name}-${a.version}`) || globMatch(spec, `${a.name}-${upstream(a.version)}`) || globMatch(spec, `${a.name}-${a.version}.x86_64`);
  const plan = new Map<string, Avail>();
  const missing: string[] = [];
  sim.out("Last metadata expiration check: 0:00:01 ago.\n");
  for (const spec of specs) {
    if (spec.startsWith("dnf-command(") || spec.includes("versionlock")) {
      const a = avail.find((x) => x.name === "python3-dnf-plugin-versionlock");
      if (a && !db.installed[a.name]) plan.set(a.name, a);
      continue;
    }
    const matches = avail.filter((a) => matchSpec(spec, a));
    if (matches.length === 0) {
      sim.err(excluded.some((a) => matchSpec(spec, a)) ? `All matches were filtered out by exclude filtering for argument: ${spec}\n` : `No match for argument: ${spec}\n`);
      missing.push(spec);
      continue;
    }
    for (const name of new Set(matches.map((a) => a.name))) {
      const mine = matches.filter((a) => a.name === name);
      const have = db.installed[name]?.version;
      if (have && (spec === name || mine.some((a) => a.version === have))) {
        sim.out(`Package ${name}-${have}.x86_64 is already installed.\n`);
        continue;
      }
      plan.set(name, newestFirst(mine)[0]!);
    }
  }
  if (missing.length) fail(1, `Error: Unable to find a match: ${missing.join(" ")}`);
  const unmet = addDependencies(plan, avail, db);
  if (unmet) fail(1, `Error: \n Problem: conflicting requests\n  - nothing provides ${unmet.replace(/^.* Depends: | but .*$/g, "")} needed by ${unmet.split(" ")[0]}`);
  const changes = [...plan.values()];
  const locked = changes.filter((a) => db.held.includes(a.name) && db.installed[a.name]);
  if (locked.length) {
    fail(1, `Error: \n Problem: package ${locked[0]!.name} is filtered out by versionlock (run dnf versionlock delete ${locked[0]!.name})`);
  }
  if (changes.length === 0) {
    sim.out("Dependencies resolved.\nNothing to do.\nComplete!\n");
    return 0;
  }
  sim.out(`Dependencies resolved.\n${changes.map((a) => ` ${a.name.padEnd(24)} x86_64  ${a.version.padEnd(22)} ${a.repo}\n`).join("")}\nTransaction Summary\n`);
  if (!o.yes) {
    sim.out("Is this ok [y/N]: ");
    fail(1, "Operation aborted.");
  }
  importRpmKeys(sim, db, new Set(changes.map((a) => a.repo)));
  installAll(sim, db, changes, (a, before) => {
    const verb = !before ? "Installing " : compareVersions(a.version, before) < 0 ? "Downgrading" : "Upgrading  ";
    sim.out(`  ${verb}      : ${a.name}-${a.version}.x86_64\n`);
  });
  sim.out("Complete!\n");
  return 0;
}

export function dnf(sim: Sim, tool: string, args: string[]): number {
  requireFamily(sim, tool, "rhel");
  const { flags, pos } = parseArgs(args, ["y", "q", "assumeyes", "quiet", "allowerasing", "nogpgcheck", "best", "nobest", "refresh", "skip-broken", "C", "cacheonly"]);
  const [cmd, ...rest] = pos;
  const yes = flags.has("y") || flags.has("assumeyes");
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
    case "upgrade":
      rootOnly();
      return dnfInstall(sim, db, rest, { yes, disableExcludes: (flags.get("disableexcludes") ?? []).flatMap((v) => v.split(",")) });
    case "remove":
    case "erase": {
      rootOnly();
      const gone = rest.filter((n) => db.installed[n]);
      for (const n of rest.filter((x) => !db.installed[x])) sim.out(`No match for argument: ${n}\n`);
      for (const n of gone) sim.out(`  Erasing          : ${n}-${db.installed[n]!.version}.x86_64\n`);
      removeAll(sim, db, gone);
      sim.out(gone.length ? "Complete!\n" : "No packages marked for removal.\nDependencies resolved.\nNothing to do.\nComplete!\n");
      return 0;
    }
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
        if (p) sim.out(`${n}.x86_64  ${p.version}  @System\n`);
      }
      return 0;
    default:
      fail(1, `No such command: ${cmd ?? ""}. Please use /usr/bin/${tool} --help`);
  }
}

/** rpm's query tags for an installed "[epoch:]version-release". */
function rpmTags(name: string, full: string): Record<string, string> {
  const m = /^(?:(\d+):)?(.*?)(?:-([^-]*))?$/.exec(full)!;
  return { NAME: name, VERSION: m[2] ?? "", RELEASE: m[3] ?? "", ARCH: "x86_64", EPOCH: m[1] ?? "(none)", EPOCHNUM: m[1] ?? "0", SUMMARY: `${name} (simulated)` };
}

export function rpm(sim: Sim, args: string[]): number {
  requireFamily(sim, "rpm", "rhel");
  let query = false;
  let all = false;
  let fmt = "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n";
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--qf" || a === "--queryformat") fmt = args[++i] ?? fmt;
    else if (a.startsWith("--qf=") || a.startsWith("--queryformat=")) fmt = a.slice(a.indexOf("=") + 1);
    else if (a === "--query") query = true;
    else if (a === "--all") all = true;
    else if (/^-[a-zA-Z]+$/.test(a)) {
      if (a.includes("q")) query = true;
      if (a.includes("a")) all = true;
    } else if (!a.startsWith("-")) names.push(a);
  }
  if (!query) fail(1, "rpm: the simulated rpm supports -q only");
  const db = loadDb();
  let code = 0;
  for (const n of all ? Object.keys(db.installed).sort() : names) {
    const p = db.installed[n];
    if (!p) {
      sim.out(`package ${n} is not installed\n`);
      code = 1;
      continue;
    }
    const tags = rpmTags(n, p.version);
    sim.out(fmt.replace(/%\{([A-Z]+)\}/g, (m, t: string) => tags[t] ?? "(none)").replace(/\\n/g, "\n").replace(/\\t/g, "\t"));
  }
  return code;
}
