// Types shared by the lab manager, the CLI, the tests and the node simulator.

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
  /** Root-namespace end of the veth pair; the host's end is eth0. */
  veth: string;
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
