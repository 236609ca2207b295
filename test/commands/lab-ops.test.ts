// The operator commands against a real lab cluster ("opsux": 3 control planes behind a keepalived VIP, one
// worker, one frontend): status before and after `up`, logs of that run, kubeconfig print/merge/fetch, and
// the HTML report of the run.
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { main } from "../../src/cli/main.js";
import type { ClusterStatus } from "../../src/commands/status.js";
import { writeRunReport } from "../../src/report/html.js";
import { labSkip, ssh, startLab, type StartedLab } from "../helpers/lab.js";
import { cli } from "./helpers.js";

describe.skipIf(labSkip)("status, logs, kubeconfig and the run report on lab 'opsux'", () => {
  let lab: StartedLab;
  let work = "";
  const cwd = process.cwd();
  const state = () => join(work, "state");
  const inv = () => ["-i", lab.inventoryPath];

  beforeAll(async () => {
    lab = await startLab({ name: "opsux", layout: "3cp,1w,1fe" });
    work = mkdtempSync(join(tmpdir(), "ks-opsux-"));
    process.chdir(work);
  }, 120_000);
  afterAll(async () => {
    process.chdir(cwd);
    await lab?.down();
  });

  it("status before up: every host reachable, kubeadm none, no API (exit 11: not built), nobody holds the VIP", async () => {
    const r = await cli(["status", ...inv(), "-o", "json"]);
    expect(r.code, r.stderr).toBe(11);
    expect(r.stderr).toMatch(/not reachable.*not built yet: run 'kubesmith up'/);
    const s = JSON.parse(r.stdout) as ClusterStatus;
    expect(s.nodes.map((n) => n.name)).toEqual(lab.state.hosts.map((h) => h.name));
    for (const n of s.nodes) expect(n.kubeadm, n.name).toBe("none");
    expect(s.api.reachable).toBe(false);
    expect(s.api.error).toMatch(/no control plane is set up/);
    expect(s.vips).toEqual([
      { name: "control-plane", vip: lab.state.vips.controlPlane, holders: [] },
      // the lab inventory has an edge VIP; nothing holds it until the keepalived-edge add-on runs
      { name: "edge", vip: lab.state.vips.edge, holders: [] },
    ]);
  }, 60_000);

  it("up, then status: nodes Ready with kubelet versions, one VIP holder (the one ip addr shows), Calico healthy", async () => {
    let out = "";
    const code = await main(["up", ...inv(), "--state-dir", state(), "-o", "json"], { stdout: (s) => void (out += s), stderr: (s) => void (out += s) });
    expect(code, out.slice(-3000)).toBe(0);

    const r = await cli(["status", ...inv(), "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as ClusterStatus;
    expect(s.api.reachable, s.api.error).toBe(true);
    for (const n of s.nodes) {
      const h = lab.state.hosts.find((x) => x.name === n.name)!;
      expect(n.ready, n.name).toBe(true);
      expect(n.kubeadm, n.name).toBe(h.roles.includes("control-plane") ? "control-plane" : "worker");
      expect(n.kubeletVersion, n.name).toMatch(/^v1\.\d+\.\d+/);
    }
    const vip = lab.state.vips.controlPlane!;
    const holders: string[] = [];
    for (const h of lab.state.hosts.filter((x) => x.roles.includes("control-plane"))) {
      const a = await ssh(lab.state, h.name, "ip -o addr show");
      if (a.stdout.includes(` ${vip}/`)) holders.push(h.name);
    }
    expect(holders).toHaveLength(1);
    expect(s.vips[0]!.holders).toEqual(holders);
    const calico = s.releases.find((x) => x.release === "calico");
    expect(calico, JSON.stringify(s.releases)).toBeDefined();
    const node = calico!.workloads.find((w) => w.kind === "DaemonSet" && w.name === "calico-node")!;
    expect(node.desired).toBe(lab.state.hosts.length);

    const t = await cli(["status", ...inv()]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/^NODE\s+ADDRESS\s+ROLES\s+KUBEADM\s+STATUS\s+KUBELET$/m);
    expect(t.stdout).toContain(`control-plane VIP ${vip}: held by ${holders[0]}`);
    expect(t.stdout).toMatch(/^calico\s+\d+\s+.*daemonset\/calico-node/m);
  }, 400_000);

  it("logs: the up run is listed as ok; a host's log has its commands; unknown host names the hosts", async () => {
    const list = await cli(["logs", ...inv(), "--state-dir", state()]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/-up\s+up\s+ok\s+/);
    const cp = lab.state.hosts[0]!.name;
    const one = await cli(["logs", ...inv(), "--state-dir", state(), "--host", cp]);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/kubeadm init/);
    const bad = await cli(["logs", ...inv(), "--state-dir", state(), "--host", "nosuch"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(lab.state.hosts.map((h) => h.name).sort().join(", "));
  });

  it("kubeconfig: prints what up wrote, fetches the same admin.conf from the host, merges a context", async () => {
    const local = readFileSync(join(state(), lab.state.name, "kubeconfig"), "utf8");
    const p = await cli(["kubeconfig", ...inv(), "--state-dir", state()]);
    expect(p.stdout).toBe(local);
    const f = await cli(["kubeconfig", ...inv(), "--state-dir", state(), "--fetch"]);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stdout).toBe(local);
    const target = join(work, "merged-config");
    const m = await cli(["kubeconfig", ...inv(), "--state-dir", state(), "--merge", "--into", target]);
    expect(m.code, m.stderr).toBe(0);
    const cfg = parse(readFileSync(target, "utf8")) as { "current-context": string; clusters: { cluster: { server: string } }[] };
    expect(cfg["current-context"]).toBe(lab.state.name);
    expect(cfg.clusters[0]!.cluster.server).toBe(`https://${lab.state.vips.controlPlane}:6443`);
  });

  it("the run report of the up run shows every phase that ran and every host", () => {
    const runs = join(state(), lab.state.name, "runs");
    const up = readdirSync(runs).filter((d) => d.endsWith("-up")).sort().at(-1)!;
    const html = readFileSync(writeRunReport(join(runs, up)), "utf8");
    const phases = readFileSync(join(runs, up, "events.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { kind: string; phase?: string });
    for (const p of phases.filter((e) => e.kind === "phase-start")) expect(html).toContain(`data-phase="${p.phase}"`);
    for (const h of lab.state.hosts) expect(html).toContain(`data-host="${h.name}"`);
    expect(html).toContain('class="outcome ok"');
  });
});
