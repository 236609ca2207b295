// A synthetic run journal as runPhases and the SSH pool write it: 3 hosts, 4 phases, one skipped phase,
// a worker failing its join, commands with durations.
import type { RunEvent, Stamped } from "../../src/ui/events.js";

export function syntheticRun(opts: { fail?: boolean } = {}): Stamped[] {
  const t0 = Date.parse("2026-01-10T10:00:00.000Z");
  let now = 0;
  const out: Stamped[] = [];
  const at = (e: RunEvent, ms = now) => out.push({ ...e, at: new Date(t0 + ms).toISOString() });
  at({ kind: "run-start", command: "up", cluster: "lab", dryRun: false, runDir: "/x" });
  const hosts = ["cp1", "w1", "w2"];
  const phase = (name: string, per: Record<string, number>, failHost?: string) => {
    const ps = now;
    at({ kind: "phase-start", phase: name });
    for (const h of Object.keys(per)) at({ kind: "host-step", phase: name, host: h, status: "start" });
    const ends = Object.entries(per).sort((a, b) => a[1] - b[1]);
    for (const [h, ms] of ends) {
      // two commands inside each host's span
      at({ kind: "command", host: h, label: `${name} step 1`, command: "true", code: 0, durationMs: Math.round(ms / 3) }, ps + Math.round(ms / 3));
      const failed = h === failHost;
      at({ kind: "command", host: h, label: `${name} step 2`, command: failed ? "kubeadm join" : "true", code: failed ? 1 : 0, durationMs: Math.round(ms / 2) }, ps + ms);
      at(
        { kind: "host-step", phase: name, host: h, status: failed ? "failed" : "done", durationMs: ms, ...(failed ? { detail: `${h}: kubeadm join failed with exit code 1` } : {}) },
        ps + ms,
      );
      if (!failed) at({ kind: "change", phase: name, host: h, what: `${name} on ${h}`, dryRun: false }, ps + ms);
    }
    now = ps + Math.max(...Object.values(per)) + 20;
    const ok = !failHost;
    at({ kind: "phase-end", phase: name, ok, durationMs: now - ps, ...(ok ? {} : { error: `${failHost}: kubeadm join failed with exit code 1` }) });
    return ok;
  };
  phase("gather facts", { cp1: 300, w1: 420, w2: 380 });
  at({ kind: "phase-skip", phase: "control-plane endpoint", reason: "one control plane" });
  phase("prepare hosts", { cp1: 4200, w1: 5100, w2: 3900 });
  phase("kubeadm init", { cp1: 6000 });
  at({ kind: "warning", host: "w2", message: "swap is on" });
  const ok = phase("join the workers", { w1: 2500, w2: opts.fail ? 1800 : 2600 }, opts.fail ? "w2" : undefined);
  at({ kind: "run-end", ok, durationMs: now, changes: out.filter((e) => e.kind === "change").length });
  void hosts;
  return out;
}
