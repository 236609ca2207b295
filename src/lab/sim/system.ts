// modprobe, sysctl, swapoff, kubelet --version, and kubectl (the real client when installed).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { constants as osConstants } from "node:os";
import path from "node:path";
import { installedVersion, upstream } from "./packages.js";
import { K8S_DEFAULT_VERSION, SIM_VAR, fail, readJson, writeJson, type Sim } from "./util.js";

const MODULES = path.join(SIM_VAR, "modules.json");
const SYSCTL = path.join(SIM_VAR, "sysctl.json");
const SWAP = path.join(SIM_VAR, "swap.json");
const REAL_KUBECTL = "/usr/bin/kubectl";
const ADMIN_CONF = "/etc/kubernetes/admin.conf";

export function modprobe(sim: Sim, args: string[]): number {
  const remove = args.includes("-r") || args.includes("--remove");
  const mods = args.filter((a) => !a.startsWith("-"));
  if (mods.length === 0) fail(1, "modprobe: ERROR: missing module name.");
  if (!sim.isRoot) fail(1, `modprobe: ERROR: could not insert '${mods[0]}': Operation not permitted`);
  const loaded = new Set(readJson<string[]>(MODULES, []));
  for (const m of remove ? mods : mods.slice(0, 1)) {
    if (remove) loaded.delete(m);
    else loaded.add(m.replace(/-/g, "_"));
  }
  writeJson(MODULES, [...loaded].sort());
  return 0;
}

export function loadedModules(): string[] {
  return readJson<string[]>(MODULES, []);
}

/** Simulated sysctl values (what `sysctl -w` and `--system` set), falling back to the real /proc/sys. */
export function sysctlValue(key: string): string | undefined {
  const store = readJson<Record<string, string>>(SYSCTL, {});
  if (key in store) return store[key];
  try {
    return readFileSync(`/proc/sys/${key.replace(/\./g, "/")}`, "utf8").trim();
  } catch {
    return undefined;
  }
}

function parseConf(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim().replace(/^-/, "");
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    out.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return out;
}

export function sysctl(sim: Sim, args: string[]): number {
  const quiet = args.includes("-q") || args.includes("--quiet");
  const valueOnly = args.includes("-n") || args.includes("--values");
  const store = readJson<Record<string, string>>(SYSCTL, {});
  const set = (pairs: [string, string][]) => {
    if (!sim.isRoot) fail(255, `sysctl: permission denied on key "${pairs[0]?.[0] ?? ""}"`);
    for (const [k, v] of pairs) {
      store[k.replace(/\//g, ".")] = v;
      if (!quiet) sim.out(`${k} = ${v}\n`);
    }
    writeJson(SYSCTL, store);
  };
  if (args.includes("--system")) {
    const files: string[] = [];
    for (const d of ["/etc/sysctl.d", "/run/sysctl.d", "/usr/lib/sysctl.d"]) {
      try {
        files.push(...readdirSync(d).filter((f) => f.endsWith(".conf")).sort().map((f) => path.join(d, f)));
      } catch {
        /* none */
      }
    }
    files.push("/etc/sysctl.conf");
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(f, "utf8");
      } catch {
        continue;
      }
      if (!quiet) sim.out(`* Applying ${f} ...\n`);
      const pairs = parseConf(text);
      if (pairs.length) set(pairs);
    }
    return 0;
  }
  const pIdx = args.findIndex((a) => a === "-p" || a === "--load" || a.startsWith("--load="));
  if (pIdx >= 0) {
    const a = args[pIdx]!;
    const file = a.startsWith("--load=") ? a.slice(7) : args[pIdx + 1] && !args[pIdx + 1]!.startsWith("-") ? args[pIdx + 1]! : "/etc/sysctl.conf";
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      fail(255, `sysctl: cannot open "${file}": No such file or directory`);
    }
    set(parseConf(text));
    return 0;
  }
  const write = args.includes("-w") || args.includes("--write");
  const keys = args.filter((a) => !a.startsWith("-"));
  if (write || keys.some((k) => k.includes("="))) {
    set(keys.map((k) => {
      const eq = k.indexOf("=");
      if (eq < 0) fail(255, `sysctl: "${k}" must be of the form name=value`);
      return [k.slice(0, eq), k.slice(eq + 1)] as [string, string];
    }));
    return 0;
  }
  let code = 0;
  for (const k of keys) {
    const v = sysctlValue(k.replace(/\//g, "."));
    if (v === undefined) {
      sim.err(`sysctl: cannot stat /proc/sys/${k.replace(/\./g, "/")}: No such file or directory\n`);
      code = 255;
      continue;
    }
    sim.out(valueOnly ? `${v}\n` : `${k} = ${v}\n`);
  }
  return code;
}

export function swapoff(sim: Sim, args: string[]): number {
  if (!sim.isRoot) fail(1, "swapoff: Not superuser.");
  if (!args.includes("-a") && !args.includes("--all") && args.filter((a) => !a.startsWith("-")).length === 0) {
    fail(1, "swapoff: bad usage\nTry 'swapoff --help' for more information.");
  }
  writeJson(SWAP, { off: true, at: new Date().toISOString() });
  return 0;
}

export function k8sVersion(pkg: string): string {
  const v = installedVersion(pkg);
  return `v${v ? upstream(v) : K8S_DEFAULT_VERSION}`;
}

export function kubelet(sim: Sim, args: string[]): number {
  if (args.includes("--version") || args[0] === "version") {
    sim.out(`Kubernetes ${k8sVersion("kubelet")}\n`);
    return 0;
  }
  fail(1, "kubelet: the lab does not run a kubelet; it is managed through the simulated systemctl (kubelet.service)");
}

export function kubectl(sim: Sim, args: string[]): number {
  if (args[0] === "version" && args.includes("--client")) {
    const v = k8sVersion("kubectl");
    if (args.includes("-o") && args[args.indexOf("-o") + 1] === "json") {
      sim.out(`${JSON.stringify({ clientVersion: { major: "1", minor: v.split(".")[1], gitVersion: v }, kustomizeVersion: "v5.6.0" }, null, 2)}\n`);
    } else sim.out(`Client Version: ${v}\nKustomize Version: v5.6.0\n`);
    return 0;
  }
  // Everything else goes to the real kubectl client when the machine has one: against the API simulator
  // that the simulated kubeadm init started. As kubeadm tells root to, it reads admin.conf when root has
  // no kubeconfig of its own.
  if (existsSync(REAL_KUBECTL)) {
    const env = { ...sim.env };
    const home = env["HOME"] ?? (sim.isRoot ? "/root" : "");
    if (!env["KUBECONFIG"] && sim.isRoot && !existsSync(path.join(home, ".kube", "config")) && existsSync(ADMIN_CONF)) env["KUBECONFIG"] = ADMIN_CONF;
    const r = spawnSync(REAL_KUBECTL, args, { stdio: sim.stdio, env });
    if (r.error) fail(1, `kubectl: ${r.error.message}`);
    return r.status ?? 128 + (r.signal ? (osConstants.signals[r.signal] ?? 0) : 0);
  }
  fail(1, "The connection to the server localhost:8080 was refused - did you specify the right host or port?");
}
