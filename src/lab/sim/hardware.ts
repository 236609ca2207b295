// The simulated hardware of a lab host: CPU count, memory, swap and cgroup version.
//
// Lab hosts share this machine's kernel, so /proc and /sys tell every host the same (real) story. The
// simulator's tools that judge hardware (kubeadm's preflight, the kubelet it starts) read these simulated
// values instead, from a file in the host's own overlay that a test may write:
//
//   /var/lib/kubesim/hardware.json   {"cpus": 2, "memoryMiB": 4096, "swapMiB": 0, "cgroup": "v2"}
//
// Missing fields take the defaults below (what a small real VM that kubeadm accepts looks like). Swap
// counts as on while swapMiB > 0 and the simulated `swapoff -a` (system.ts, /var/lib/kubesim/swap.json)
// has not turned it off.
//
// SEAM, documented: the product's facts script (src/facts/gather.ts) reads /proc/meminfo, /proc/swaps and
// getconf directly, so it sees the machine, not this file. With the defaults the two agree on what matters
// (enough CPUs and memory, no swap). A test that changes this file changes what the simulated kubeadm
// and kubelet see, not what the product's own preflight sees.
import path from "node:path";
import { SIM_VAR, readJson } from "./util.js";

export const HARDWARE_FILE = path.join(SIM_VAR, "hardware.json");
const SWAP_STATE = path.join(SIM_VAR, "swap.json");

export interface Hardware {
  cpus: number;
  memoryMiB: number;
  swapMiB: number;
  cgroup: "v1" | "v2";
}

export const DEFAULT_HARDWARE: Hardware = { cpus: 2, memoryMiB: 4096, swapMiB: 0, cgroup: "v2" };

export function hardware(file = HARDWARE_FILE): Hardware {
  const h = readJson<Partial<Hardware>>(file, {});
  return {
    cpus: Number.isInteger(h.cpus) ? h.cpus! : DEFAULT_HARDWARE.cpus,
    memoryMiB: typeof h.memoryMiB === "number" ? h.memoryMiB : DEFAULT_HARDWARE.memoryMiB,
    swapMiB: typeof h.swapMiB === "number" ? h.swapMiB : DEFAULT_HARDWARE.swapMiB,
    cgroup: h.cgroup === "v1" ? "v1" : "v2",
  };
}

/** Is swap on: the host has some and the simulated `swapoff` has not run. */
export function swapOn(h: Hardware = hardware(), swapState = SWAP_STATE): boolean {
  return h.swapMiB > 0 && readJson<{ off?: boolean }>(swapState, {}).off !== true;
}
