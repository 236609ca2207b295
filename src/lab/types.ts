// Types shared by the lab manager, the CLI, the tests and the node simulator.
import type { TransientKind } from "./sim/transient.js";

export const LAB_NETWORKS = ["bridge", "vagrant"] as const;
export type LabNetwork = (typeof LAB_NETWORKS)[number];

/**
 * The vagrant network's NAT side, as VirtualBox NAT gives every VM 10.0.2.15/24 with the gateway 10.0.2.2
 * (VirtualBox manual, "Network Address Translation (NAT)"; kubernetes.io blog 2021-06-08 "Avoiding the Default
 * Address when Using kubeadm to Create a Cluster"), moved into the lab's own range 198.18.0.0/15.
 */
export const VAGRANT_NAT = { address: "198.19.255.15", prefix: 24, gateway: "198.19.255.2" } as const;

export const LAB_OSES = ["debian-12", "ubuntu-24.04", "rocky-9"] as const;
export type LabOs = (typeof LAB_OSES)[number];

/** A process the lab started or that a simulated command started (keepalived). */
export interface ProcRef {
  pid: number;
  /** Start time in clock ticks since boot (field 22 of /proc/PID/stat): guards against PID reuse. */
  start: number;
  what: string;
}

export interface LabHost {
  name: string;
  index: number;
  address: string;
  namespace: string;
  /** Root-namespace end of the veth pair on the lab bridge; the host's end is `nic` (eth0, eth1 on vagrant). */
  veth: string;
  /** The host's interface on the lab bridge (absent: eth0). */
  nic?: string;
  /**
   * vagrant network: root-namespace end of the host's NAT link (its eth0, the same address on every host,
   * connected to nothing: not on the bridge, no address, no forwarding).
   */
  natVeth?: string;
  os: LabOs;
  roles: ("control-plane" | "worker" | "frontend")[];
  /** <lab dir>/hosts/<name>: upper dirs, sshd config, command log. */
  dir: string;
  sshd?: ProcRef;
}

export interface LabState {
  version: 1;
  name: string;
  dir: string;
  /** Third octet N of 198.18.N.0/24. */
  subnet: number;
  /**
   * Host networking. Absent or "bridge": one interface (eth0) on the lab bridge. "vagrant": as VirtualBox
   * VMs made by Vagrant, eth0 is a NAT interface with the same address and default route on every host,
   * eth1 the private network on the lab bridge (the address the inventory uses).
   */
  network?: LabNetwork;
  /** Bridge in the root namespace; set just before it is created. */
  bridge?: string;
  gateway: string;
  phase: "building" | "up";
  createdAt: string;
  /** Per-lab client key (ed25519) authorized for root and kube on every host. */
  keyFile: string;
  knownHostsFile: string;
  /** Password of the non-root user `kube` (0600), needed for its sudo. */
  passwordFile: string;
  user: { name: string; uid: number };
  inventoryPath?: string;
  faultsFile: string;
  hosts: LabHost[];
  /** Namespaces recorded before they are created. */
  namespaces: string[];
  /** veths recorded before they are created. */
  veths: string[];
  procs: ProcRef[];
  vips: { controlPlane?: string; edge?: string };
}

export interface LabHostStatus {
  name: string;
  address: string;
  os: LabOs;
  roles: string[];
  namespace: string;
  namespaceAlive: boolean;
  sshdPid?: number;
  sshdAlive: boolean;
}

export interface LabStatus {
  name: string;
  exists: boolean;
  phase?: LabState["phase"];
  subnet?: string;
  hosts: LabHostStatus[];
}

/** One fault rule. `command` matches the start of the simulated argv ("kubeadm join"). */
export interface LabFault {
  /** Host name; absent = every host. */
  host?: string;
  command: string;
  delayMs?: number;
  fail?: string;
  exitCode?: number;
  hang?: boolean;
  /**
   * A transient package-manager failure with the real tool's output and exit code (sim/transient.ts):
   * lock, dns, 503, reset.
   */
  transient?: TransientKind;
  /** The fault applies to the first N matching commands on each host, then no more (absent: always). */
  times?: number;
}

/** The simulator's view of its lab, written at lab up to <lab dir>/sim.json. */
export interface SimConfig {
  lab: string;
  labDir: string;
  faultsFile: string;
  subnet: number;
  /** Simulated commands go to a resident simulator per host (src/lab/sim/resident.ts); absent: one Node start each. */
  resident?: boolean;
}
