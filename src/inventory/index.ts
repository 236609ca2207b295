// The inventory's public API.
import type { HostSpec, Inventory, RoleName } from "./schema.js";

export { type LoadedInventory, type LoadOptions, loadInventory, parseInventory, substituteEnv } from "./load.js";
export { checkRules, hostIp, isControlPlane, isFrontend, isWorker, type RuleResult } from "./rules.js";
export { type FieldPath, formatPath, type Position, type SourceLookup } from "./source.js";
export * from "./schema.js";

/**
 * Hosts carrying a role, in inventory order. A frontend host counts as a worker (it runs workloads and
 * is only labelled and used for the edge add-ons), so hostsByRole(inv, "worker") includes frontends.
 */
export function hostsByRole(inv: Inventory, role: RoleName): HostSpec[] {
  return inv.hosts.filter((h) => h.roles.includes(role) || (role === "worker" && h.roles.includes("frontend")));
}
