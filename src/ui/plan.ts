// What a plan (a dry run) would change, grouped as people read it: host by host, and within a host phase by
// phase, in the order the run met them; the cluster's API ("cluster") after the hosts. The changes keep
// their own words ("filebeat: create 5 object(s)"): the heading says they would happen.

export interface PlanChange {
  phase: string;
  host: string;
  what: string;
}

/** The host name under which changes made through the Kubernetes API are recorded (phases/addons.ts API_HOST). */
const API = "cluster";

export function planSummary(changes: readonly PlanChange[]): string {
  if (!changes.length) return "Nothing would change.\n";
  const byHost = new Map<string, Map<string, string[]>>();
  for (const c of changes) {
    const phases = byHost.get(c.host) ?? new Map<string, string[]>();
    phases.set(c.phase, [...(phases.get(c.phase) ?? []), c.what]);
    byHost.set(c.host, phases);
  }
  const hosts = [...byHost.keys()].filter((h) => h !== API);
  if (byHost.has(API)) hosts.push(API);
  const n = hosts.filter((h) => h !== API).length;
  const lines = [`Would make ${changes.length} change(s)${n ? ` on ${n} host(s)` : ""}${byHost.has(API) ? `${n ? " and" : ""} through the cluster's API` : ""}:`];
  for (const h of hosts) {
    lines.push(h === API ? "the cluster (Kubernetes API)" : h);
    for (const [phase, whats] of byHost.get(h)!) {
      lines.push(`  ${phase}`);
      for (const w of whats) lines.push(`    - ${w}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
