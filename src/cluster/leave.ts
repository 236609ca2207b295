// `remove-node`: the cluster as it will be without the hosts being removed. The run's model leaves them
// out, so every phase that renders from the inventory (the keepalived peers, the add-ons' host lists)
// renders what stays; the hosts that leave are kept apart (ClusterContext.leaving).
import { QuorumError, UsageError } from "../errors.js";
import { endpointOf, type ClusterHost, type ClusterModel } from "./model.js";

export function leaveOut(model: ClusterModel, names: readonly string[], file: string): { model: ClusterModel; leaving: ClusterHost[] } {
  const gone = new Set(names);
  const leaving = model.hosts.filter((h) => gone.has(h.name));
  const hosts = model.hosts.filter((h) => !gone.has(h.name));
  const controlPlanes = hosts.filter((h) => h.isControlPlane);
  if (!controlPlanes.length) {
    const cps = leaving.filter((h) => h.isControlPlane).map((h) => h.name);
    throw new QuorumError(`refusing to remove ${cps.join(", ")}: no control plane of ${file} would be left (the cluster's etcd and API live on them); nothing was changed`, {
      hint: "add and join another control plane first (put it in the inventory and run up), then remove this one",
    });
  }
  if (model.endpoint.kind === "first" && leaving.some((h) => h === model.first)) {
    throw new UsageError(
      `refusing to remove ${model.first.name}: it is the cluster's control-plane endpoint (${file} has no cluster.controlPlaneEndpoint), and every node reaches the API through its address; nothing was changed`,
    );
  }
  const inventory = { ...model.inventory, hosts: model.inventory.hosts.filter((h) => !gone.has(h.name)) };
  const first = controlPlanes[0]!;
  return {
    model: { ...model, inventory, hosts, controlPlanes, workers: hosts.filter((h) => !h.isControlPlane), first, endpoint: endpointOf(inventory, first) },
    leaving,
  };
}
