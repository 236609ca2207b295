// `--limit NAME,…` (up, plan, down, check): run on a subset of the inventory's hosts, as Ansible's --limit
// does. This file only turns the flag into host names (checked against the inventory); what each phase
// does with hosts outside the limit is decided where hosts are left out already: phases/partial.ts's
// remaining() and forHosts (phases/run.ts) skip them, and the phases with cluster-wide changes say why
// they are skipped (docs/architecture.md, "Running on some hosts: --limit").
import { UsageError } from "../errors.js";
import { closest } from "../inventory/zod-issues.js";

export const LIMIT_HELP =
  "only these hosts, comma-separated (names from the inventory, or role:control-plane, role:worker, role:frontend); the others are not changed";

const ROLES = ["control-plane", "worker", "frontend"] as const;

interface LimitHost {
  name: string;
  roles: readonly string[];
}

/**
 * The hosts `--limit` names, in inventory order. A value is a list of host names and role selectors
 * (`role:worker`), separated by commas (spaces around them are ignored). An unknown name or role, or an
 * empty list, is a UsageError (exit 2) naming it, with the closest host name when there is one.
 */
export function resolveLimit(value: string, hosts: readonly LimitHost[], inventoryFile: string): string[] {
  const words = value.split(",").map((w) => w.trim()).filter(Boolean);
  if (!words.length) throw new UsageError(`--limit needs at least one host name (got '${value}')`, { hint: `hosts in ${inventoryFile}: ${hosts.map((h) => h.name).join(", ")}` });
  const names = hosts.map((h) => h.name);
  const chosen = new Set<string>();
  for (const w of words) {
    const role = /^role:(.*)$/.exec(w);
    if (role) {
      const r = role[1]!;
      if (!(ROLES as readonly string[]).includes(r)) {
        const guess = closest(r, [...ROLES]);
        throw new UsageError(`--limit: no role '${r}'`, { hint: `${guess ? `did you mean role:${guess}? ` : ""}roles: ${ROLES.map((x) => `role:${x}`).join(", ")}` });
      }
      const with_ = hosts.filter((h) => h.roles.includes(r));
      if (!with_.length) throw new UsageError(`--limit: no host in ${inventoryFile} has the role ${r}`);
      for (const h of with_) chosen.add(h.name);
      continue;
    }
    if (!names.includes(w)) {
      const guess = closest(w, names);
      throw new UsageError(`--limit: no host named '${w}' in ${inventoryFile}`, { hint: `${guess ? `did you mean ${guess}? ` : ""}hosts: ${names.join(", ")}` });
    }
    chosen.add(w);
  }
  return names.filter((n) => chosen.has(n));
}

/**
 * `down --limit`: only hosts that are not control planes, unless every host is named (that is `down`).
 * Taking a control plane out of a running cluster (its etcd member, quorum, the VIP peers of the others)
 * is remove-node's business, not a reset's.
 */
export function checkDownLimit(limited: readonly string[], hosts: readonly LimitHost[]): void {
  if (limited.length === hosts.length) return;
  const cps = hosts.filter((h) => limited.includes(h.name) && h.roles.includes("control-plane")).map((h) => h.name);
  if (cps.length) {
    throw new UsageError(`down --limit resets workers and frontends only; ${cps.join(", ")} ${cps.length > 1 ? "are control planes" : "is a control plane"}`, {
      hint: "'kubesmith remove-node' takes a control plane out of a running cluster (its etcd member, the others' VIP peers); 'kubesmith down' without --limit tears the whole cluster down",
    });
  }
}

/**
 * Whether a run may make the cluster-wide changes (Calico, the add-ons applied through the API, the local
 * kubeconfig): always without --limit; with it, only when the limit includes the run's leader (the first
 * control plane set up), as Ansible plays run their run_once tasks on the first control plane. Returns
 * undefined when it may, else the reason it is skipped.
 */
export function clusterWideSkipped(ctx: { limit?: ReadonlySet<string>; model: { first: { name: string } } }): string | undefined {
  if (!ctx.limit || ctx.limit.has(ctx.model.first.name)) return undefined;
  return `--limit leaves out ${ctx.model.first.name}, which makes the cluster-wide changes; run without --limit (or include ${ctx.model.first.name}) for them`;
}
