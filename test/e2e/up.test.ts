// Cluster bootstrap end to end against the lab: 3 control planes behind a keepalived VIP, 3 workers and 2
// frontend nodes. up → every node Ready and labelled; a second up changes nothing; plan changes nothing;
// a fault in one worker's join; down; rebuild. Run with the built CLI, as a user would.
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setLabFaults } from "../../src/lab/lab.js";
import { KubeClient, nodeReady } from "../../src/kube/client.js";
import { changesOf, jsonEvents, kubesmith as runCli, type RunResult as Run } from "../helpers/cli.js";
import { labSkip, ssh, startLab, type StartedLab, upperFiles } from "../helpers/lab.js";

let work = "";
const kubesmith = (args: string[]): Promise<Run> => runCli(args, { cwd: work, env: { CI: "true" } });

const events = (r: Run) => jsonEvents(r.stdout);

describe.skipIf(labSkip)("up / plan / down / rebuild on a lab of 3 control planes, 3 workers, 2 frontend", () => {
  let lab: StartedLab;
  let inv: string;
  const args = () => ["-i", inv, "--state-dir", join(work, "state"), "-o", "json"];

  beforeAll(async () => {
    // Every distribution kubesmith supports, in every role: HA control planes on Debian, Ubuntu and Rocky.
    lab = await startLab({ name: "e2eup", layout: "3cp,3w,2fe", os: ["debian-12", "ubuntu-24.04", "rocky-9", "rocky-9", "debian-12", "ubuntu-24.04", "ubuntu-24.04", "rocky-9"] });
    inv = lab.inventoryPath;
    work = mkdtempSync(join(tmpdir(), "kubesmith-up-"));
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
  });

  it("plan lists changes for every host and changes nothing", async () => {
    const before = upperFiles(lab);
    const r = await kubesmith(["plan", ...args()]);
    expect(r.code, r.stderr).toBe(0);
    const hostsWithChanges = new Set(changesOf(r).map((e) => e.host));
    for (const h of lab.state.hosts) expect(hostsWithChanges.has(h.name), h.name).toBe(true);
    expect(changesOf(r).some((e) => /kubeadm init/.test(e.what ?? ""))).toBe(true);
    expect(upperFiles(lab)).toEqual(before);
  }, 120_000);

  it("up: every node Ready, frontend labels set, the VIP answers", async () => {
    const r = await kubesmith(["up", ...args()]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const kc = readFileSync(join(work, "state", lab.state.name, "kubeconfig"), "utf8");
    expect(statSync(join(work, "state", lab.state.name, "kubeconfig")).mode & 0o777).toBe(0o600);
    const kube = await KubeClient.fromKubeconfig(kc);
    try {
      expect(kc).toContain(`server: https://${lab.state.vips.controlPlane}:6443`);
      const nodes = await kube.list("v1", "Node");
      expect(nodes.map((n) => n.metadata.name).sort()).toEqual(lab.state.hosts.map((h) => h.name).sort());
      for (const n of nodes) expect(nodeReady(n), n.metadata.name).toBe(true);
      for (const h of lab.state.hosts) {
        const n = nodes.find((x) => x.metadata.name === h.name)!;
        const isFe = h.roles.includes("frontend");
        expect(n.metadata.labels?.role, h.name).toBe(isFe ? "frontend" : undefined);
        if (h.roles.includes("control-plane")) expect(n.metadata.labels).toHaveProperty(["node-role.kubernetes.io/control-plane"]);
      }
    } finally {
      kube.close();
    }
    // no secret reached the logs
    const logs = readdirSync(join(work, "state", lab.state.name, "runs"));
    for (const run of logs) {
      for (const f of readdirSync(join(work, "state", lab.state.name, "runs", run, "hosts"))) {
        const text = readFileSync(join(work, "state", lab.state.name, "runs", run, "hosts", f), "utf8");
        expect(text).not.toMatch(/token: [a-z0-9]{6}\.[a-z0-9]{16}/);
        expect(text).not.toMatch(/certificateKey: [a-f0-9]{64}/);
      }
    }
  }, 300_000);

  it("a second up changes nothing", async () => {
    const r = await kubesmith(["up", ...args()]);
    expect(r.code, r.stderr).toBe(0);
    expect(changesOf(r).map((e) => `${e.host}: ${e.what}`)).toEqual([]);
  }, 180_000);

  it("a worker whose Node was deleted is repaired: reset and joined again", async () => {
    const victim = lab.state.hosts.find((h) => h.roles.includes("worker") && !h.roles.includes("frontend"))!;
    const kube = await KubeClient.fromKubeconfig(readFileSync(join(work, "state", lab.state.name, "kubeconfig"), "utf8"));
    try {
      expect(await kube.delete("v1", "Node", victim.name)).toBe(true);
      const r = await kubesmith(["up", ...args()]);
      expect(r.code, r.stderr).toBe(0);
      const mine = changesOf(r).filter((e) => e.host === victim.name).map((e) => e.what ?? "");
      expect(mine[0]).toMatch(/^repair: kubeadm reset/);
      expect(mine.some((w) => /kubeadm join as a worker/.test(w))).toBe(true);
      expect(changesOf(r).filter((e) => /kubeadm (join|init)|repair/.test(e.what ?? "")).every((e) => e.host === victim.name)).toBe(true);
      const node = await kube.get("v1", "Node", victim.name);
      expect(node && nodeReady(node)).toBe(true);
      // The join token of that repair was made by kubesmith and is redacted wherever kubeadm echoed it.
      const runs = join(work, "state", lab.state.name, "runs");
      const latest = join(runs, readdirSync(runs).filter((d) => d.endsWith("-up")).sort().pop()!, "hosts");
      const logs = readdirSync(latest).map((f) => readFileSync(join(latest, f), "utf8")).join("\n");
      expect(logs).toMatch(/create a join token/);
      expect(logs).not.toMatch(/\b[a-z0-9]{6}\.[a-z0-9]{16}\b/);
    } finally {
      kube.close();
    }
  }, 180_000);

  it("a failed worker join: the others finish, the run names host and step; the next up does only what was missing", async () => {
    const r0 = await kubesmith(["down", "--yes", ...args()]);
    expect(r0.code, r0.stderr).toBe(0);
    // down resets the workers first, then the control planes one at a time, the last one first (etcd quorum)
    const resets = events(r0).filter((e) => e.kind === "host-step" && e.phase?.startsWith("reset hosts"));
    const cps = lab.state.hosts.filter((h) => h.roles.includes("control-plane")).map((h) => h.name);
    const at = (host: string, status: string) => resets.findIndex((e) => e.host === host && e.status === status);
    const lastWorkerDone = Math.max(...lab.state.hosts.filter((h) => !cps.includes(h.name)).map((h) => at(h.name, "done")));
    expect(lastWorkerDone).toBeGreaterThanOrEqual(0);
    const cpOrder = resets.filter((e) => e.status === "start" && cps.includes(e.host!)).map((e) => e.host);
    expect(cpOrder).toEqual([...cps].reverse());
    for (let i = 0; i < cpOrder.length; i++) {
      expect(at(cpOrder[i]!, "start")).toBeGreaterThan(i === 0 ? lastWorkerDone : at(cpOrder[i - 1]!, "done"));
    }
    const victim = lab.state.hosts.find((h) => h.roles.includes("worker") && !h.roles.includes("frontend"))!;
    setLabFaults(lab.state.name, [{ host: victim.name, command: "kubeadm join", exitCode: 1, fail: "simulated join failure" }]);
    const r1 = await kubesmith(["up", ...args()]);
    setLabFaults(lab.state.name, []);
    expect(r1.code).not.toBe(0);
    expect(r1.stderr).toMatch(new RegExp(`^kubesmith: ${victim.name}: .*kubeadm join.*simulated join failure`, "m"));
    const joined = events(r1).filter((e) => e.kind === "host-step" && e.phase === "join the workers" && e.status === "done").map((e) => e.host);
    expect(joined.length).toBe(lab.state.hosts.filter((h) => !h.roles.includes("control-plane")).length - 1);
    const r2 = await kubesmith(["up", ...args()]);
    expect(r2.code, r2.stderr).toBe(0);
    const joins = changesOf(r2).filter((e) => /kubeadm join/.test(e.what ?? ""));
    expect(joins.map((e) => e.host)).toEqual([victim.name]);
    expect(changesOf(r2).some((e) => /kubeadm init/.test(e.what ?? ""))).toBe(false);
  }, 400_000);

  it("down leaves no cluster state on the hosts; rebuild brings it back", async () => {
    const r = await kubesmith(["down", "--yes", ...args()]);
    expect(r.code, r.stderr).toBe(0);
    for (const h of lab.state.hosts) {
      const s = await ssh(lab.state, h.name, "find /etc/kubernetes /var/lib/etcd /etc/cni/net.d -type f 2>/dev/null; systemctl is-active keepalived");
      expect(s.stdout.trim(), h.name).toMatch(/^(inactive|unknown)?$/);
    }
    const noTty = await kubesmith(["down", ...args()]);
    expect(noTty.code).toBe(14);
    expect(noTty.stderr).toMatch(/--yes/);
    const rb = await kubesmith(["rebuild", "--yes", ...args()]);
    expect(rb.code, rb.stderr).toBe(0);
    expect(events(rb).filter((e) => e.kind === "run-end").map((e) => e.ok)).toEqual([true, true]);
  }, 400_000);
});
