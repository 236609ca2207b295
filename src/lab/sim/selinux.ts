// getenforce and setenforce on lab hosts. The mode at "boot" comes from /etc/selinux/config (SELINUX=),
// as the kernel's policy load does; setenforce changes only the running mode (setenforce(8): "You need to
// modify /etc/grub.conf or /etc/selinux/config to disable SELinux"), kept in the host's simulator state.
// A host without /etc/selinux/config (the lab's Debian and Ubuntu) has SELinux disabled.
// Upstream: kubeadm's install page for Red Hat-based distributions sets permissive with `setenforce 0` and
// `sed -i 's/^SELINUX=enforcing$/SELINUX=permissive/' /etc/selinux/config`.
import path from "node:path";
import { readFileSync } from "node:fs";
import { SIM_VAR, fail, readJson, writeJson, type Sim } from "./util.js";

export type SelinuxMode = "Enforcing" | "Permissive" | "Disabled";
const STATE = path.join(SIM_VAR, "selinux.json");
export const SELINUX_CONFIG = "/etc/selinux/config";

/** The mode the config file asks for at boot. */
export function bootMode(): SelinuxMode {
  let text: string;
  try {
    text = readFileSync(SELINUX_CONFIG, "utf8");
  } catch {
    return "Disabled";
  }
  const v = /^SELINUX=(\w+)\s*$/m.exec(text)?.[1];
  return v === "enforcing" ? "Enforcing" : v === "permissive" ? "Permissive" : "Disabled";
}

export function selinuxMode(): SelinuxMode {
  const boot = bootMode();
  // disabled at boot stays disabled; otherwise setenforce's choice holds until the next boot
  if (boot === "Disabled") return "Disabled";
  return readJson<{ mode?: SelinuxMode }>(STATE, {}).mode ?? boot;
}

export function getenforce(sim: Sim, _args: string[]): number {
  sim.out(`${selinuxMode()}\n`);
  return 0;
}

export function setenforce(sim: Sim, args: string[]): number {
  const a = args[0];
  if (args.length !== 1 || !a || !/^(1|0|enforcing|permissive)$/i.test(a)) fail(1, "usage:  setenforce [ Enforcing | Permissive | 1 | 0 ]");
  if (selinuxMode() === "Disabled") fail(1, "setenforce: SELinux is disabled");
  if (!sim.isRoot) fail(1, "setenforce:  setenforce() failed");
  writeJson(STATE, { mode: a === "1" || /^enforcing$/i.test(a) ? "Enforcing" : "Permissive" });
  return 0;
}
