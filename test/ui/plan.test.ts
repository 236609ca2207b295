// plan output: grouped by host, then by phase, instead of one interleaved line per change as the hosts finish.
import { describe, expect, it } from "vitest";
import type { RunEvent } from "../../src/ui/events.js";
import { planSummary } from "../../src/ui/plan.js";
import { PlainReporter } from "../../src/ui/reporters.js";

const change = (host: string, phase: string, what: string): RunEvent => ({ kind: "change", phase, host, what, dryRun: true });

describe("plan summary", () => {
  it("hosts in the order met, the cluster's API last, phases within a host, no 'would' glued to a release name", () => {
    let out = "";
    const r = new PlainReporter((s) => (out += s));
    const events: RunEvent[] = [
      { kind: "run-start", command: "up", cluster: "lab", dryRun: true, runDir: "/r" },
      { kind: "phase-start", phase: "prepare the hosts" },
      change("w1", "prepare the hosts", "load kernel modules"),
      change("cp1", "prepare the hosts", "load kernel modules"),
      change("w1", "prepare the hosts", "turn swap off"),
      { kind: "phase-end", phase: "prepare the hosts", ok: true, durationMs: 5 },
      change("cluster", "add-ons: apply the enabled bundles", "filebeat: create 5 object(s)"),
      change("cp1", "kubeadm init on the first control plane", "kubeadm init"),
      { kind: "run-end", ok: true, durationMs: 10, changes: 5 },
    ];
    for (const e of events) r.emit(e);
    // nothing per change while the run goes
    expect(out).not.toMatch(/^\s+w1: would/m);
    const summary = out.slice(out.indexOf("Would make"));
    expect(summary).toBe(
      [
        "Would make 5 change(s) on 2 host(s) and through the cluster's API:",
        "w1",
        "  prepare the hosts",
        "    - load kernel modules",
        "    - turn swap off",
        "cp1",
        "  prepare the hosts",
        "    - load kernel modules",
        "  kubeadm init on the first control plane",
        "    - kubeadm init",
        "the cluster (Kubernetes API)",
        "  add-ons: apply the enabled bundles",
        "    - filebeat: create 5 object(s)",
        "",
        "finished in 0.0s, 5 change(s)",
        "",
      ].join("\n"),
    );
    expect(out).not.toMatch(/cluster: would filebeat/);
  });

  it("says so when nothing would change", () => {
    expect(planSummary([])).toBe("Nothing would change.\n");
  });
});
