// The cluster as the phases see it: inventory hosts with their roles resolved, their SSH targets, and
// the control-plane endpoint every node uses to reach the API.
import type { LoadedInventory } from "../inventory/load.js";
import type { HostSpec, Inventory } from "../inventory/schema.js";
import type { SshTarget } from "../ssh/types.js";

export interface ClusterHost {
  name: string;
  /** Address kubesmith connects to. */
  address: string;
  /** Address the node advertises inside the cluster. */
  nodeIP: string;
  spec: HostSpec;
  target: SshTarget;
  isControlPlane: boolean;
  /** Workers and frontend nodes run workloads. */
  isWorker: boolean;
  isFrontend: boolean;
}

export interface Endpoint {
  host: string;
  port: number;
  /** "vip" | "loadBalancer" | "first control plane" */
  kind: "vip" | "loadBalancer" | "first";
}

export interface ClusterModel {
  name: string;
  inventory: Inventory;
  loaded: LoadedInventory;
  hosts: ClusterHost[];
  controlPlanes: ClusterHost[];
  /** Hosts that join as workers (workers and frontend nodes that are not control planes). */
  workers: ClusterHost[];
  /**
   * The control plane that leads the run: kubeadm init (on a new cluster), join tokens, the lock and
   * the API. The inventory's first control plane until facts are known, then chooseLeader's pick.
   */
  first: ClusterHost;
  endpoint: Endpoint;
}

export function buildModel(loaded: LoadedInventory, targets: SshTarget[]): ClusterModel {
  const inv = loaded.inventory;
  const byName = new Map(targets.map((t) => [t.name, t]));
  const hosts: ClusterHost[] = inv.hosts.map((h) => ({
    name: h.name,
    address: h.address,
    nodeIP: h.internalAddress ?? h.address,
    spec: h,
    target: byName.get(h.name)!,
    isControlPlane: h.roles.includes("control-plane"),
    isWorker: h.roles.includes("worker") || h.roles.includes("frontend"),
    isFrontend: h.roles.includes("frontend"),
  }));
  const controlPlanes = hosts.filter((h) => h.isControlPlane);
  const workers = hosts.filter((h) => !h.isControlPlane);
  const first = controlPlanes[0]!; // the inventory rules guarantee one
  return { name: inv.cluster.name, inventory: inv, loaded, hosts, controlPlanes, workers, first, endpoint: endpointOf(inv, first) };
}

/**
 * The leader, from live facts: the first control plane (inventory order) that kubeadm already set up, so a
 * rebuilt first host joins the running cluster instead of starting a second one; on a new cluster, the
 * inventory's first control plane.
 */
export function chooseLeader(model: ClusterModel, kubeadmState: (host: string) => "none" | "worker" | "control-plane" | undefined): ClusterHost {
  return model.controlPlanes.find((h) => kubeadmState(h.name) === "control-plane") ?? model.controlPlanes[0]!;
}

export function endpointOf(inv: Inventory, first: ClusterHost): Endpoint {
  const cpe = inv.cluster.controlPlaneEndpoint;
  if (cpe && "vip" in cpe) return { host: cpe.vip, port: cpe.port ?? 6443, kind: "vip" };
  if (cpe && "loadBalancer" in cpe) {
    const m = /^(.*?)(?::(\d+))?$/.exec(cpe.loadBalancer)!;
    return { host: m[1]!, port: cpe.port ?? (m[2] ? Number(m[2]) : 6443), kind: "loadBalancer" };
  }
  return { host: first.nodeIP, port: 6443, kind: "first" };
}

export function endpointString(e: Endpoint): string {
  return `${e.host}:${e.port}`;
}
