// The programs this machine needs, in one list: the lab's (for `lab up`, the demo and every lab test) and
// the tests' own extras. `lab setup` installs the missing ones through apt; `checkLabPrerequisites`,
// test/setup/requirements.ts (the check at the start of every test run) and .ci/run all read this list,
// so a program a test calls cannot be forgotten in one of them (it happened: nft).
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import path from "node:path";
import { LabError } from "../errors.js";

export type Need = "lab" | "tests";

export interface Program {
  /** The command as the lab or a test calls it. */
  name: string;
  /** The Debian/Ubuntu package that brings it. */
  pkg: string;
  need: Need;
  /** What calls it, for the messages. */
  why: string;
  /** Absolute places to look before PATH (tools the lab calls by absolute path). */
  paths?: string[];
}

export const PROGRAMS: readonly Program[] = [
  { name: "ip", pkg: "iproute2", need: "lab", why: "network namespaces, veths and the bridge" },
  { name: "unshare", pkg: "util-linux", need: "lab", why: "a private hostname and mount namespace per host" },
  { name: "mount", pkg: "mount", need: "lab", why: "the hosts' overlays" },
  { name: "sshd", pkg: "openssh-server", need: "lab", why: "each lab host runs a real sshd", paths: ["/usr/sbin/sshd"] },
  { name: "ssh-keygen", pkg: "openssh-client", need: "lab", why: "host and user keys" },
  { name: "ssh", pkg: "openssh-client", need: "lab", why: "tests reach lab hosts with the OpenSSH client" },
  { name: "openssl", pkg: "openssl", need: "lab", why: "the simulated kubeadm's CA and certificates" },
  { name: "sudo", pkg: "sudo", need: "lab", why: "the lab's non-root user runs kubesmith's commands with sudo" },
  { name: "keepalived", pkg: "keepalived", need: "lab", why: "the VIPs run the real keepalived" },
  { name: "iptables", pkg: "iptables", need: "lab", why: "reset removes kube-proxy and Calico rules" },
  { name: "iptables-save", pkg: "iptables", need: "lab", why: "reset removes kube-proxy and Calico rules" },
  { name: "nft", pkg: "nftables", need: "lab", why: "reset removes kube-proxy's nftables tables" },
  { name: "ps", pkg: "procps", need: "lab", why: "the lab's process bookkeeping" },
  { name: "promtool", pkg: "prometheus", need: "tests", why: "the Prometheus bundle's config and PromQL are checked by the real promtool" },
  { name: "tmux", pkg: "tmux", need: "tests", why: "the wizard is driven in a real terminal" },
  { name: "chromium", pkg: "chromium", need: "tests", why: "the HTML run report is checked in headless Chromium" },
  { name: "kubectl", pkg: "kubernetes-client", need: "tests", why: "the API simulator is driven by the real kubectl", paths: ["/usr/bin/kubectl", "/usr/local/bin/kubectl"] },
  { name: "ssh-agent", pkg: "openssh-client", need: "tests", why: "SSH agent authentication" },
  { name: "cc", pkg: "gcc", need: "tests", why: "the lab's compiled client of its node simulator (src/lab/sim/client.c; a lab without a C compiler uses the slower bash client)" },
  { name: "arping", pkg: "iputils-arping", need: "tests", why: "init checks a VIP is free with iputils arping on a lab host (lab hosts share this machine's programs)" },
];

/** Extra packages that come with a need but are no program of their own. */
const EXTRA_PACKAGES: Record<Need, string[]> = { lab: ["ca-certificates"], tests: ["fonts-dejavu-core", "libc6-dev"] };

const SEARCH_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** The absolute path of a program, or undefined. PATH first, then the sbin directories sudo leaves out. */
export function findProgram(name: string, paths: readonly string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":"), ...SEARCH_DIRS];
  for (const p of [...paths, ...dirs.filter(Boolean).map((d) => path.join(d, name))]) {
    try {
      const st = statSync(p);
      if (st.isFile() && st.mode & 0o111) return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function missingPrograms(needs: readonly Need[], programs: readonly Program[] = PROGRAMS): Program[] {
  return programs.filter((p) => needs.includes(p.need) && !findProgram(p.name, p.paths));
}

/** "sshd (openssh-server), nft (nftables)" */
export function describeMissing(missing: readonly Program[]): string {
  return missing.map((p) => `${p.name} (${p.pkg})`).join(", ");
}

export function packagesFor(missing: readonly Program[], needs: readonly Need[] = []): string[] {
  return [...new Set([...missing.map((p) => p.pkg), ...(missing.length ? needs.flatMap((n) => EXTRA_PACKAGES[n]) : [])])];
}

/** The lab's hosts share this kernel: the prepare step's module probe reads /proc/sys/net/bridge. Best effort. */
function loadKernelModules(): void {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return;
  for (const mod of ["br_netfilter", "overlay"]) spawnSync("modprobe", [mod], { stdio: "ignore" });
}

export interface SetupOptions {
  needs: Need[];
  /** Print what would be installed and stop. */
  dryRun?: boolean;
  log: (line: string) => void;
  /** For tests: the package manager (null: none; default: the machine's apt-get), the list, being root. */
  aptGet?: string | null;
  programs?: readonly Program[];
  isRoot?: boolean;
}

/**
 * Install the missing programs through apt-get, saying what and why before doing so.
 * Refuses clearly on a system without apt or without root. Returns the packages installed.
 */
export function setupMachine(o: SetupOptions): string[] {
  loadKernelModules();
  const missing = missingPrograms(o.needs, o.programs);
  if (!missing.length) {
    o.log(`everything the ${o.needs.join(" and ")} need${o.needs.length > 1 ? "" : "s"} is installed`);
    return [];
  }
  const pkgs = packagesFor(missing, o.needs);
  o.log(`missing: ${describeMissing(missing)}`);
  for (const p of missing) o.log(`  ${p.name}: ${p.why}`);
  if (process.platform !== "linux") {
    throw new LabError(`the lab needs Linux; this is ${process.platform}`, { hint: "run it on a Linux machine (Debian or Ubuntu)" });
  }
  const aptGet = o.aptGet === undefined ? findProgram("apt-get") : o.aptGet;
  if (!aptGet) {
    throw new LabError(`cannot install ${describeMissing(missing)}: this system has no apt-get`, {
      hint: "install those programs with your package manager, then run again (the lab is tested on Debian 12 and Ubuntu 24.04)",
    });
  }
  o.log(`${o.dryRun ? "would install" : "installing"} with apt-get: ${pkgs.join(" ")}`);
  if (o.dryRun) return [];
  if (!(o.isRoot ?? process.getuid?.() === 0)) {
    throw new LabError(`installing ${pkgs.join(" ")} needs root`, { hint: `run: sudo apt-get install -y ${pkgs.join(" ")}` });
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const apt = (args: string[], what: string) => {
    const r = spawnSync(aptGet, args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    if (r.error || r.status !== 0) {
      const last = `${r.stderr ?? ""}`.trim().split("\n").filter(Boolean).pop() ?? r.error?.message ?? "";
      throw new LabError(`${what} failed (apt-get exited ${r.status ?? "on a signal"})${last ? `: ${last}` : ""}`, {
        hint: `run it by hand to see why: apt-get ${args.join(" ")}`,
      });
    }
  };
  apt(["update", "-qq"], "apt-get update");
  apt(["install", "-y", "-qq", "--no-install-recommends", ...pkgs], `apt-get install ${pkgs.join(" ")}`);
  const still = missingPrograms(o.needs, o.programs);
  if (still.length) {
    throw new LabError(`still missing after apt-get install: ${describeMissing(still)}`, { hint: "install them by hand, then run again" });
  }
  o.log(`installed: ${pkgs.join(" ")}`);
  return pkgs;
}
