// systemctl for containerd and kubelet (simulated units) and keepalived (the real Debian daemon,
// run in this host's namespaces; its PID goes to the lab state so `lab down` kills it by PID). On the
// lab's RHEL-like hosts also firewalld (starting it loads its zone as real nftables rules in the host's
// namespace, stopping it removes them: firewalld.ts) and NetworkManager (state only).
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { killAndWait, procRef, refAlive } from "../procs.js";
import type { ProcRef } from "../types.js";
import { containerdConfigError } from "./containerd.js";
import { firewalldInstalled, setFirewalldRunning } from "./firewalld.js";
import { installedVersion } from "./packages.js";
import { SIM_VAR, fail, readJson, writeJson, type Sim } from "./util.js";

interface Unit {
  enabled: boolean;
  active: boolean;
  since?: string;
  masked?: boolean;
}
type Units = Record<string, Unit>;
const UNITS = path.join(SIM_VAR, "units.json");
const SIMULATED = ["containerd", "kubelet", "keepalived", "firewalld", "NetworkManager"];
const KEEPALIVED = "/usr/sbin/keepalived";
const KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf";

export function loadUnits(): Units {
  return readJson<Units>(UNITS, {});
}

function unitExists(name: string): boolean {
  if (name === "kubelet") return installedVersion("kubelet") !== undefined;
  if (name === "containerd") return installedVersion("containerd") !== undefined || installedVersion("containerd.io") !== undefined;
  if (name === "keepalived") return existsSync(KEEPALIVED);
  if (name === "firewalld") return firewalldInstalled();
  if (name === "NetworkManager") return existsSync("/etc/NetworkManager");
  return false;
}

function procFile(sim: Sim, name: string): string {
  return path.join(sim.hostDir, "procs", `${name}.json`);
}

function keepalivedRef(sim: Sim): ProcRef | undefined {
  return readJson<ProcRef | undefined>(procFile(sim, "keepalived"), undefined);
}

/** Is the unit running? keepalived: its recorded process; others: the simulated state. */
export function isActive(sim: Sim, name: string): boolean {
  if (name === "keepalived") {
    const ref = keepalivedRef(sim);
    return ref !== undefined && refAlive(ref);
  }
  return loadUnits()[name]?.active === true;
}

async function startKeepalived(sim: Sim): Promise<void> {
  if (isActive(sim, "keepalived")) return;
  // Debian's unit: ConditionFileNotEmpty=/etc/keepalived/keepalived.conf -> start succeeds, nothing runs.
  if (!existsSync(KEEPALIVED_CONF) || statSync(KEEPALIVED_CONF).size === 0) {
    sim.err("keepalived.service: condition check resulted in Keepalive Daemon (LVS and VRRP) being skipped (no /etc/keepalived/keepalived.conf)\n");
    return;
  }
  mkdirSync("/var/log", { recursive: true });
  const fd = openSync("/var/log/keepalived.log", "a");
  let pid: number | undefined;
  try {
    const child = spawn(KEEPALIVED, ["-n", "-l", "-D", "-f", KEEPALIVED_CONF], { detached: true, stdio: ["ignore", fd, fd] });
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(fd);
  }
  if (pid === undefined) fail(1, "Job for keepalived.service failed because the control process exited with error code.");
  const ref = procRef(pid, `keepalived ${sim.host}`);
  writeJson(procFile(sim, "keepalived"), ref);
  await new Promise((r) => setTimeout(r, 150));
  if (!refAlive(ref)) {
    rmSync(procFile(sim, "keepalived"), { force: true });
    let tail = "";
    try {
      tail = readFileSync("/var/log/keepalived.log", "utf8").trim().split("\n").slice(-3).join("\n");
    } catch {
      /* none */
    }
    fail(1, `Job for keepalived.service failed because the control process exited with error code.\nSee "systemctl status keepalived.service" and "journalctl -xeu keepalived.service" for details.\n${tail}`);
  }
}

async function stopKeepalived(sim: Sim): Promise<void> {
  const ref = keepalivedRef(sim);
  if (ref && refAlive(ref)) await killAndWait([{ pid: ref.pid, start: ref.start }], "SIGTERM", 5000);
  rmSync(procFile(sim, "keepalived"), { force: true });
}

export async function systemctl(sim: Sim, args: string[]): Promise<number> {
  const quiet = args.includes("-q") || args.includes("--quiet");
  const now = args.includes("--now");
  const pos = args.filter((a) => !a.startsWith("-"));
  const [cmd, ...rawUnits] = pos;
  if (!cmd) fail(1, "systemctl: the simulated systemctl needs a command");
  const units = rawUnits.map((u) => u.replace(/\.service$/, ""));
  const db = loadUnits();
  const save = () => writeJson(UNITS, db);
  const get = (u: string): Unit => (db[u] ??= { enabled: false, active: false });
  const mutating = ["start", "stop", "restart", "reload", "try-restart", "reload-or-restart", "enable", "disable", "mask", "unmask", "daemon-reload"];
  if (mutating.includes(cmd) && !sim.isRoot) {
    fail(1, `Failed to ${cmd} ${rawUnits.join(" ")}: Interactive authentication required.\nSee system logs and 'systemctl status ${rawUnits[0] ?? ""}' for details.`);
  }
  if (cmd === "daemon-reload") return 0;

  const simulatedOnly = units.filter((u) => SIMULATED.includes(u));
  for (const u of units.filter((x) => !SIMULATED.includes(x))) {
    sim.err(`kubesim: systemctl ${cmd} ${u}: unit not simulated in the lab; nothing done\n`);
  }
  const missing = simulatedOnly.filter((u) => !unitExists(u));

  switch (cmd) {
    case "start":
    case "restart":
    case "reload":
    case "try-restart":
    case "reload-or-restart":
    case "stop": {
      if (missing.length && cmd !== "stop") fail(5, `Failed to ${cmd} ${missing[0]}.service: Unit ${missing[0]}.service not found.`);
      for (const u of simulatedOnly) {
        if (db[u]?.masked && cmd !== "stop") fail(1, `Failed to ${cmd} ${u}.service: Unit ${u}.service is masked.`);
        if (u === "keepalived") {
          if (cmd === "stop" || cmd === "restart" || cmd === "reload-or-restart" || (cmd === "try-restart" && isActive(sim, u))) await stopKeepalived(sim);
          if (cmd === "reload" && isActive(sim, u)) process.kill(keepalivedRef(sim)!.pid, "SIGHUP");
          else if (cmd !== "stop" && (cmd !== "try-restart" || isActive(sim, u) === false)) {
            if (cmd !== "try-restart") await startKeepalived(sim);
          }
          get(u).active = isActive(sim, u);
        } else {
          const unit = get(u);
          if (u === "firewalld") {
            // stop removes firewalld's rules; start, restart and reload load the permanent zone
            if (cmd === "stop") setFirewalldRunning(false);
            else if (cmd !== "try-restart" || unit.active) setFirewalldRunning(true);
          }
          if (cmd === "stop") unit.active = false;
          else if (cmd !== "try-restart" || unit.active) {
            // containerd refuses to start on a config.toml it cannot parse
            const bad = u === "containerd" ? containerdConfigError() : undefined;
            if (bad) {
              unit.active = false;
              save();
              fail(1, `Job for containerd.service failed because the control process exited with error code.\nSee "systemctl status containerd.service" and "journalctl -xeu containerd.service" for details.\ncontainerd: failed to load TOML from /etc/containerd/config.toml: ${bad}`);
            }
            // the kubelet reports its version at start, and the lab holds it to the skew policy (kubeadm-upgrade.ts)
            // (loaded here: kubeadm-upgrade.js brings yaml and the API client, ≈ 45 ms a resident simulator would pay
            // on its first `systemctl is-active`; issue 12)
            const skew = u === "kubelet" ? await (await import("./kubeadm-upgrade.js")).kubeletRestarted(sim) : undefined;
            if (skew) {
              unit.active = false;
              save();
              fail(1, `Job for kubelet.service failed because the control process exited with error code.\nSee "systemctl status kubelet.service" and "journalctl -xeu kubelet.service" for details.\nkubelet: ${skew}`);
            }
            unit.active = true;
            unit.since = new Date().toISOString();
          }
        }
      }
      save();
      return 0;
    }
    case "enable":
    case "disable": {
      if (missing.length) fail(1, `Failed to ${cmd} unit: Unit file ${missing[0]}.service does not exist.`);
      for (const u of simulatedOnly) {
        const unit = get(u);
        if (cmd === "enable" && !unit.enabled) sim.err(`Created symlink /etc/systemd/system/multi-user.target.wants/${u}.service → /lib/systemd/system/${u}.service.\n`);
        if (cmd === "disable" && unit.enabled) sim.err(`Removed "/etc/systemd/system/multi-user.target.wants/${u}.service".\n`);
        unit.enabled = cmd === "enable";
      }
      save();
      if (now) return systemctl(sim, [cmd === "enable" ? "start" : "stop", ...rawUnits]);
      return 0;
    }
    case "mask":
    case "unmask":
      for (const u of simulatedOnly) get(u).masked = cmd === "mask";
      save();
      return 0;
    case "is-active": {
      let code = 0;
      for (const u of units) {
        const active = SIMULATED.includes(u) ? isActive(sim, u) : false;
        if (!quiet) sim.out(`${active ? "active" : "inactive"}\n`);
        if (!active) code = 3;
      }
      return code;
    }
    case "is-enabled": {
      let code = 0;
      for (const u of units) {
        const exists = SIMULATED.includes(u) && unitExists(u);
        const state = !exists ? "not-found" : db[u]?.masked ? "masked" : db[u]?.enabled ? "enabled" : "disabled";
        if (!quiet) sim.out(`${state}\n`);
        if (state !== "enabled") code = exists ? 1 : 4;
      }
      return code;
    }
    case "is-failed":
      return 1;
    case "status": {
      let code = 0;
      for (const u of units) {
        if (!SIMULATED.includes(u) || !unitExists(u)) {
          sim.err(`Unit ${u}.service could not be found.\n`);
          code = 4;
          continue;
        }
        const active = isActive(sim, u);
        const unit = db[u];
        const pid = u === "keepalived" ? keepalivedRef(sim)?.pid : undefined;
        sim.out(
          `● ${u}.service - ${u} (kubesmith lab)\n     Loaded: loaded (/lib/systemd/system/${u}.service; ${unit?.enabled ? "enabled" : "disabled"}; preset: enabled)\n     Active: ${active ? `active (running) since ${unit?.since ?? "boot"}` : "inactive (dead)"}\n${pid && active ? `   Main PID: ${pid} (${u})\n` : ""}`,
        );
        if (!active && code === 0) code = 3;
      }
      return code;
    }
    default:
      sim.err(`kubesim: systemctl ${cmd}: not simulated; nothing done\n`);
      return 0;
  }
}

/** What `kubeadm reset` does to the kubelet: stop it (a simulated unit). */
export function stopSimulatedUnit(name: string): void {
  const db = loadUnits();
  const unit = db[name];
  if (unit?.active) {
    unit.active = false;
    writeJson(UNITS, db);
  }
}

/** Used by kubeadm's preflight checks. */
export function unitState(sim: Sim, name: string): { active: boolean; enabled: boolean } {
  return { active: isActive(sim, name), enabled: loadUnits()[name]?.enabled === true };
}
