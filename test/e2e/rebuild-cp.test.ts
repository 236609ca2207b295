// Issue 10/9: the first control plane is rebuilt (wiped: a fresh machine, nothing kubeadm did) while the
// other two run. up must not run a second kubeadm init: it leads from lab-2 (the first control plane that
// kubeadm set up), removes lab-1's stale etcd member through lab-2, joins lab-1 as a control plane again,
// and the cluster stays one cluster behind the VIP. Then lab-1 goes down (issue 10, "if cp1 is down, up
// still works through another"): up leads from lab-2, joins a worker that was reset, and ends with exit 4
// naming lab-1. Lab "e2ecp1", 3 control planes and 1 worker.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostDown, hostWipe } from "../../src/lab/hostops.js";
import { KubeClient, nodeReady } from "../../src/kube/client.js";
import { changesOf, kubesmith as runCli, type RunResult as Run } from "../helpers/cli.js";
import { labSkip, ssh, startLab, waitFor, type StartedLab } from "../helpers/lab.js";

const ETCDCTL =
  "crictl exec $(crictl ps -q --name etcd) etcdctl --cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/healthcheck-client.crt --key /etc/kubernetes/pki/etcd/healthcheck-client.key member list";

describe.skipIf(labSkip)("up after the first control plane was wiped while the others run (lab 3cp,1w)", () => {
  let lab: StartedLab;
  let work = "";
  const kubesmith = (args: string[]): Promise<Run> => runCli(args, { cwd: work, env: { CI: "true" } });
  const args = () => ["-i", lab.inventoryPath, "--state-dir", join(work, "state"), "-o", "json"];

  beforeAll(async () => {
    lab = await startLab({ name: "e2ecp1", layout: "3cp,1w" });
    work = mkdtempSync(join(tmpdir(), "kubesmith-cp1-"));
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
  });

  it("rejoins lab-1 as a control plane of the same cluster; the next up changes nothing", async () => {
    const first = await kubesmith(["up", ...args()]);
    expect(first.code, first.stderr + first.stdout.slice(-2000)).toBe(0);
    const uid = async () => {
      const kube = await KubeClient.fromKubeconfig(readFileSync(join(work, "state", lab.state.name, "kubeconfig"), "utf8"));
      try {
        return { ns: (await kube.get("v1", "Namespace", "kube-system"))?.metadata.uid, nodes: await kube.list("v1", "Node") };
      } finally {
        kube.close();
      }
    };
    const before = await uid();

    await hostWipe(lab.state.name, "lab-1");
    const r = await kubesmith(["up", ...args()]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const changes = changesOf(r).map((e) => `${e.host}: ${e.what}`);
    expect(changes.filter((c) => /kubeadm init/.test(c))).toEqual([]);
    const removeAt = changes.findIndex((c) => /^lab-1: remove its stale etcd member [0-9a-f]+ \(lab-1; the host is not set up\) through lab-2$/.test(c));
    const joinAt = changes.findIndex((c) => /^lab-1: kubeadm join as a control plane/.test(c));
    expect(removeAt, changes.join("\n")).toBeGreaterThanOrEqual(0);
    expect(joinAt).toBeGreaterThan(removeAt);
    expect(changes.filter((c) => !c.startsWith("lab-1: ")), "only lab-1 changes").toEqual([]);

    // one cluster: the same kube-system namespace, every node Ready, three etcd members, the VIP held once
    const after = await uid();
    expect(after.ns).toBe(before.ns);
    expect(after.nodes.map((n) => n.metadata.name).sort()).toEqual(["lab-1", "lab-2", "lab-3", "lab-4"]);
    for (const n of after.nodes) expect(nodeReady(n), n.metadata.name).toBe(true);
    const members = await ssh(lab.state, "lab-3", ETCDCTL);
    expect(members.code, members.stderr).toBe(0);
    expect(members.stdout.trim().split("\n").map((l) => l.split(", ")[2]).sort()).toEqual(["lab-1", "lab-2", "lab-3"]);
    const vip = lab.state.vips.controlPlane!;
    // lab-1's keepalived (highest priority) takes the VIP back once its API answers: wait for one holder
    const holders = async () => {
      const out: string[] = [];
      for (const h of ["lab-1", "lab-2", "lab-3"]) if ((await ssh(lab.state, h, "ip -4 -o addr show dev eth0")).stdout.includes(`${vip}/`)) out.push(h);
      return out;
    };
    // (one look per try: asking twice could see the VIP move between the two looks and return [])
    const held = await waitFor(async () => {
      const h = await holders();
      return h.length === 1 ? h : undefined;
    }, 30_000, 200);
    const why = async () => (await Promise.all(["lab-1", "lab-2", "lab-3"].map((h) => ssh(lab.state, h, "ip -4 -o addr show dev eth0; tail -n 8 /var/log/keepalived.log")))).map((x, i) => `lab-${i + 1}: ${x.stdout}${x.stderr}`).join("\n");
    expect(held ?? (await holders()), held ? "" : await why()).toHaveLength(1);

    const again = await kubesmith(["up", ...args()]);
    expect(again.code, again.stderr).toBe(0);
    expect(changesOf(again).map((e) => `${e.host}: ${e.what}`)).toEqual([]);
  }, 600_000);

  it("lab-1 down: up works through lab-2 (a reset worker joins again), never inits, names lab-1 and exits 4", async () => {
    await hostDown(lab.state.name, "lab-1");
    const reset = await ssh(lab.state, "lab-4", "kubeadm reset -f");
    expect(reset.code, reset.stderr).toBe(0);
    const r = await kubesmith(["up", ...args(), "--connect-timeout", "2", "--retry-budget", "0"]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(4);
    expect(r.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^kubesmith: lab-1: .+; everything else was done through lab-2: bring lab-1 back and run up again$/),
    ]);
    const changes = changesOf(r).map((e) => `${e.host}: ${e.what}`);
    expect(changes).toEqual([expect.stringMatching(/^lab-4: kubeadm join as a worker via /)]);
    const kube = await KubeClient.fromKubeconfig(readFileSync(join(work, "state", lab.state.name, "kubeconfig"), "utf8"));
    try {
      const n4 = await kube.get("v1", "Node", "lab-4");
      expect(n4 && nodeReady(n4)).toBe(true);
    } finally {
      kube.close();
    }
  }, 300_000);

  it("lab-1 and lab-3 down (etcd without a majority): up stops before init with one line saying what to do", async () => {
    await hostDown(lab.state.name, "lab-3");
    const r = await kubesmith(["up", ...args(), "--connect-timeout", "2", "--retry-budget", "0"]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(11);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toContainEqual(
      expect.stringMatching(/^kubesmith: lab-2: the cluster's API does not answer through [\d.]+:6443 \(.+\), and .*lab-4.* joined this cluster, so up will not reset it or run kubeadm init: bring back lab-1, lab-3 \(etcd needs 2 of its 3 members to answer\), then run up again$/),
    );
    expect(changesOf(r).map((e) => `${e.host}: ${e.what}`)).toEqual([]);
  }, 300_000);
});
