// --limit (issue 13 §4, Ansible's meaning) end to end through the built CLI on a lab of 1 control plane and
// 2 workers (lab-1 cp, lab-2 and lab-3 workers): `down --limit lab-3` drains and resets only lab-3,
// `up --limit lab-3` joins it again and changes nothing else (the control plane is read from and makes
// the join token, but nothing is recorded on it and the other worker's files do not move), a limited plan
// of a converged cluster is empty, `check --limit` contacts only the named host, and a wrong name or a
// control plane in `down --limit` is refused with exit 2 before anything runs. Lab "e2elimit".
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient, nodeReady } from "../../src/kube/client.js";
import { changesOf, jsonEvents, kubesmith as runCli, type RunResult as Run } from "../helpers/cli.js";
import { labSkip, ssh, startLab, type StartedLab, upperFiles } from "../helpers/lab.js";

describe.skipIf(labSkip)("--limit on up, plan, down and check (lab 1cp,2w)", () => {
  let lab: StartedLab;
  let work = "";
  const kubesmith = (args: string[]): Promise<Run> => runCli(args, { cwd: work, env: { CI: "true" } });
  const args = () => ["-i", lab.inventoryPath, "--state-dir", join(work, "state")];
  const kube = async () => KubeClient.fromKubeconfig(readFileSync(join(work, "state", lab.state.name, "kubeconfig"), "utf8"));
  const joined = async (host: string) => (await ssh(lab.state, host, "test -f /etc/kubernetes/kubelet.conf")).code === 0;

  beforeAll(async () => {
    lab = await startLab({ name: "e2elimit", layout: "1cp,2w" });
    work = mkdtempSync(join(tmpdir(), "kubesmith-limit-"));
    const up = await kubesmith(["up", ...args(), "-o", "json"]);
    expect(up.code, up.stderr + up.stdout.slice(-2000)).toBe(0);
  }, 400_000);
  afterAll(async () => {
    await lab?.down();
  });

  it("a wrong name is refused with exit 2 and a guess; down --limit refuses a control plane; nothing ran", async () => {
    const before = readdirSync(join(work, "state", lab.state.name, "runs")).length;
    const typo = await kubesmith(["up", ...args(), "--limit", "lab3"]);
    expect(typo.code, typo.stderr).toBe(2);
    expect(typo.stderr).toBe(`kubesmith: --limit: no host named 'lab3' in ${lab.inventoryPath} (did you mean lab-3? hosts: lab-1, lab-2, lab-3)\n`);
    const role = await kubesmith(["plan", ...args(), "--limit", "role:workers"]);
    expect(role.code, role.stderr).toBe(2);
    expect(role.stderr).toMatch(/^kubesmith: --limit: no role 'workers' \(did you mean role:worker\?/);
    const cp = await kubesmith(["down", ...args(), "--limit", "lab-1,lab-3", "--yes"]);
    expect(cp.code, cp.stderr).toBe(2);
    expect(cp.stderr).toMatch(/^kubesmith: down --limit resets workers and frontends only; lab-1 is a control plane/);
    const check = await kubesmith(["check", ...args(), "--limit", "nosuch"]);
    expect(check.code, check.stderr).toBe(2);
    // refused before a run directory was made, and before any host was touched
    expect(readdirSync(join(work, "state", lab.state.name, "runs")).length).toBe(before);
    expect(await joined("lab-3")).toBe(true);
  }, 60_000);

  it("check --limit contacts and reports only the named host", async () => {
    const r = await kubesmith(["check", ...args(), "--limit", "lab-2", "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { hosts: { name: string; facts?: unknown }[] };
    expect(report.hosts.map((h) => h.name)).toEqual(["lab-2"]);
    expect(report.hosts[0]!.facts).toBeDefined();
  }, 60_000);

  it("down --limit lab-3 drains and resets lab-3 only", async () => {
    const other = upperFiles(lab, ["lab-2"]);
    const r = await kubesmith(["down", ...args(), "--limit", "lab-3", "--yes", "-o", "json"]);
    expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
    const changes = changesOf(r);
    expect(changes.length).toBeGreaterThan(0);
    expect(changes.filter((c) => c.host !== "lab-3").map((c) => `${c.host}: ${c.what}`)).toEqual([]);
    expect(changes.some((c) => /delete node lab-3/.test(c.what ?? ""))).toBe(true);
    // hosts outside the limit are not worked on: no host-step on lab-2 at all, lab-1 only read (facts)
    const steps = jsonEvents(r.stdout).filter((e) => e.kind === "host-step");
    expect(steps.filter((e) => e.host === "lab-2")).toEqual([]);
    expect([...new Set(steps.filter((e) => e.host === "lab-1").map((e) => e.phase))]).toEqual(["connect and gather facts"]);
    expect(await joined("lab-3")).toBe(false);
    expect(await joined("lab-2")).toBe(true);
    expect(upperFiles(lab, ["lab-2"])).toEqual(other);
    const k = await kube();
    try {
      const nodes = await k.list("v1", "Node");
      expect(nodes.map((n) => n.metadata.name).sort()).toEqual(["lab-1", "lab-2"]);
      for (const n of nodes) expect(nodeReady(n), n.metadata.name).toBe(true);
    } finally {
      k.close();
    }
  }, 180_000);

  it("up --limit lab-3 joins it again and changes nothing on the other hosts or in the cluster's add-ons", async () => {
    // drift on lab-2 that a whole up would repair: its worker label taken off
    const k0 = await kube();
    try {
      await k0.mergePatch("v1", "Node", "lab-2", { metadata: { labels: { "node-role.kubernetes.io/worker": null } } });
    } finally {
      k0.close();
    }
    const other = upperFiles(lab, ["lab-2"]);
    const plan = await kubesmith(["plan", ...args(), "--limit", "lab-3", "-o", "json"]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(changesOf(plan).length).toBeGreaterThan(0);
    expect(changesOf(plan).filter((c) => c.host !== "lab-3").map((c) => `${c.host}: ${c.what}`)).toEqual([]);

    const r = await kubesmith(["up", ...args(), "--limit", "lab-3", "-o", "json"]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const changes = changesOf(r);
    expect(changes.filter((c) => c.host !== "lab-3").map((c) => `${c.host}: ${c.what}`)).toEqual([]);
    expect(changes.some((c) => /kubeadm join as a worker/.test(c.what ?? ""))).toBe(true);
    // the cluster-wide phases say why they did not run
    const skipped = jsonEvents(r.stdout).filter((e) => e.kind === "phase-skip").map((e) => e.phase);
    expect(skipped).toContain("kubeconfig");
    // the journal and the report say the run was limited
    const start = jsonEvents(r.stdout).find((e) => e.kind === "run-start") as { limit?: string[]; runDir?: string } | undefined;
    expect(start?.limit).toEqual(["lab-3"]);
    expect(readFileSync(join(start!.runDir!, "report.html"), "utf8")).toContain("--limit lab-3: no other host was changed");
    // no work on lab-2 at all, lab-1 only read
    const steps = jsonEvents(r.stdout).filter((e) => e.kind === "host-step");
    expect(steps.filter((e) => e.host === "lab-2")).toEqual([]);
    expect([...new Set(steps.filter((e) => e.host === "lab-1").map((e) => e.phase))]).toEqual(["connect and gather facts"]);
    expect(await joined("lab-3")).toBe(true);
    expect(upperFiles(lab, ["lab-2"])).toEqual(other);
    const k = await kube();
    try {
      const node = await k.get("v1", "Node", "lab-3");
      expect(node && nodeReady(node)).toBe(true);
      expect(node?.metadata.labels).toHaveProperty(["node-role.kubernetes.io/worker"]);
      // lab-2's drift is still there: it was outside the limit
      expect((await k.get("v1", "Node", "lab-2"))?.metadata.labels).not.toHaveProperty(["node-role.kubernetes.io/worker"]);
    } finally {
      k.close();
    }
    // lab-3 converged: a plan limited to it is empty; one by role and a whole one find only lab-2's label
    const again = await kubesmith(["plan", ...args(), "--limit", "lab-3", "-o", "json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(changesOf(again).map((c) => `${c.host}: ${c.what}`)).toEqual([]);
    for (const limit of [["--limit", "role:worker"], []]) {
      const p = await kubesmith(["plan", ...args(), ...limit, "-o", "json"]);
      expect(p.code, p.stderr).toBe(0);
      expect(changesOf(p).map((c) => `${c.host}: ${c.what}`), limit.join(" ")).toEqual(["lab-2: set node labels node-role.kubernetes.io/worker"]);
    }
  }, 300_000);
});
