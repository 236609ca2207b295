// Issue 14, scale out and in, on one lab that grows and shrinks (lab "scale", 3cp,3w,2fe: lab-1..3 control
// planes, lab-4..6 workers, lab-7..8 frontends). The lab is made with every host; the first inventory lists
// only lab-1 (with the control-plane VIP), lab-4 and lab-7. Then:
// - scale out: the full inventory joins 2 control planes, 2 workers and 1 frontend on the next up;
// - up with an inventory that no longer lists lab-6 warns (naming it and remove-node) and keeps its Node;
// - remove-node refuses without --yes (14); --dry-run plans and changes nothing;
// - remove-node lab-6 (no longer in the inventory: reached at its Node's InternalIP), lab-3 (a control
//   plane) and lab-8 (a frontend): 5 nodes Ready, etcd has 2 members, the API VIP's and the edge VIP's
//   keepalived peers updated, addons diff empty;
// - removing lab-2 then (1 of 2 etcd members) is refused with exit 16, naming the members.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { hostDown } from "../../src/lab/hostops.js";
import { KubeClient, nodeReady } from "../../src/kube/client.js";
import { changesOf, jsonEvents, kubesmith as runCli, type RunResult as Run } from "../helpers/cli.js";
import { labSkip, ssh, startLab, waitFor, type StartedLab } from "../helpers/lab.js";

const ETCDCTL =
  "crictl exec $(crictl ps -q --name etcd) etcdctl --cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/healthcheck-client.crt --key /etc/kubernetes/pki/etcd/healthcheck-client.key member list";

describe.skipIf(labSkip)("scale out and in (lab 3cp,3w,2fe; first inventory 1cp,1w,1fe with the VIP)", () => {
  let lab: StartedLab;
  let work = "";
  const inv: Record<string, string> = {};
  const kubesmith = (args: string[]): Promise<Run> => runCli(args, { cwd: work, env: { CI: "true" } });
  const args = (which: string) => ["-i", inv[which]!, "--state-dir", join(work, "state")];
  const addr = (h: string) => lab.state.hosts.find((x) => x.name === h)!.address;
  /** An inventory with only these hosts of the lab's own (same cluster, VIP, add-ons). */
  const inventoryWith = (name: string, hosts: string[]) => {
    const doc = parse(readFileSync(lab.inventoryPath, "utf8")) as { hosts: { name: string }[] };
    doc.hosts = doc.hosts.filter((h) => hosts.includes(h.name));
    inv[name] = join(work, `${name}.yaml`);
    writeFileSync(inv[name], stringify(doc));
  };
  const nodes = async () => {
    const kube = await KubeClient.fromKubeconfig(readFileSync(join(work, "state", lab.state.name, "kubeconfig"), "utf8"));
    try {
      return await kube.list("v1", "Node");
    } finally {
      kube.close();
    }
  };
  const keepalivedPeers = async (h: string) => {
    const r = await ssh(lab.state, h, "cat /etc/keepalived/keepalived.conf");
    expect(r.code, r.stderr).toBe(0);
    const block = /unicast_peer \{([^}]*)\}/.exec(r.stdout)?.[1] ?? "";
    return block.split(/\s+/).filter(Boolean).sort();
  };

  beforeAll(async () => {
    lab = await startLab({ name: "scale", layout: "3cp,3w,2fe" });
    work = mkdtempSync(join(tmpdir(), "kubesmith-scale-"));
    const all = lab.state.hosts.map((h) => h.name);
    inventoryWith("small", ["lab-1", "lab-4", "lab-7"]);
    inventoryWith("full", all);
    inventoryWith("no6", all.filter((h) => h !== "lab-6"));
    inventoryWith("no368", all.filter((h) => !["lab-3", "lab-6", "lab-8"].includes(h)));
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
  });

  it("scale out: 2 control planes, 2 workers and a frontend added to the inventory join on the next up", async () => {
    const first = await kubesmith(["up", "-o", "json", ...args("small")]);
    expect(first.code, first.stderr + first.stdout.slice(-2000)).toBe(0);
    expect((await nodes()).map((n) => n.metadata.name).sort()).toEqual(["lab-1", "lab-4", "lab-7"]);

    const r = await kubesmith(["up", "-o", "json", ...args("full")]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const changes = changesOf(r).map((e) => `${e.host}: ${e.what}`);
    expect(changes.filter((c) => /kubeadm init/.test(c))).toEqual([]);
    for (const h of ["lab-2", "lab-3"]) expect(changes, h).toContainEqual(expect.stringMatching(new RegExp(`^${h}: kubeadm join as a control plane`)));
    for (const h of ["lab-5", "lab-6", "lab-8"]) expect(changes, h).toContainEqual(expect.stringMatching(new RegExp(`^${h}: kubeadm join as a worker`)));
    const all = await nodes();
    expect(all.map((n) => n.metadata.name).sort()).toEqual(lab.state.hosts.map((h) => h.name).sort());
    for (const n of all) expect(nodeReady(n), n.metadata.name).toBe(true);
    // every control plane's keepalived lists the two others as peers (lab-1's was rewritten)
    for (const h of ["lab-1", "lab-2", "lab-3"]) {
      expect(await keepalivedPeers(h), h).toEqual(["lab-1", "lab-2", "lab-3"].filter((x) => x !== h).map(addr).sort());
    }
    const members = await ssh(lab.state, "lab-1", ETCDCTL);
    expect(members.stdout.trim().split("\n").map((l) => l.split(", ")[2]).sort()).toEqual(["lab-1", "lab-2", "lab-3"]);
    const diff = await kubesmith(["addons", "diff", ...args("full")]);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
  }, 900_000);

  it("up warns about a Node the inventory no longer lists, naming it and remove-node, and keeps it", async () => {
    const r = await kubesmith(["up", "-o", "json", ...args("no6")]);
    expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
    const warnings = jsonEvents(r.stdout).filter((e) => e.kind === "warning").map((e) => (e as { message?: string }).message ?? "");
    expect(warnings.filter((m) => /does not list/.test(m))).toEqual([expect.stringMatching(/: lab-6; up leaves them alone \(remove them with 'kubesmith remove-node -i .+ lab-6'/)]);
    expect(changesOf(r).filter((e) => e.host === "lab-6")).toEqual([]);
    expect((await nodes()).map((n) => n.metadata.name)).toContain("lab-6");
  }, 600_000);

  it("remove-node needs --yes without a terminal (14); --dry-run plans and changes nothing", async () => {
    const refused = await kubesmith(["remove-node", ...args("no6"), "lab-6"]);
    expect(refused.code, refused.stderr).toBe(14);
    const plan = await kubesmith(["remove-node", "--dry-run", "-o", "json", ...args("no6"), "lab-6", "lab-3"]);
    expect(plan.code, plan.stderr + plan.stdout.slice(-2000)).toBe(0);
    const changes = changesOf(plan).map((e) => `${e.host}: ${e.what}`);
    // workers first; a control plane: drained and deleted, keepalived stopped (the VIP handed over), its etcd member removed, then reset
    const at = (re: RegExp) => changes.findIndex((c) => re.test(c));
    const order = [
      /^lab-6: cordon and drain node lab-6, delete it$/,
      /^lab-6: kubeadm reset/,
      /^lab-3: cordon and drain node lab-3, delete it$/,
      /^lab-3: stop and disable keepalived$/,
      /^lab-3: remove its etcd member [0-9a-f]+ \(lab-3\) through lab-1$/,
      /^lab-3: kubeadm reset/,
    ].map(at);
    expect(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1]!)), `${order.join(",")}\n${changes.join("\n")}`).toBe(true);
    expect((await nodes()).map((n) => n.metadata.name)).toEqual(expect.arrayContaining(["lab-3", "lab-6"]));
  }, 300_000);

  it("removes a worker the inventory no longer lists, a frontend and a control plane: etcd has 2 members, keepalived peers updated, addons diff empty", async () => {
    const r = await kubesmith(["remove-node", "--yes", "-o", "json", ...args("no6"), "lab-6", "lab-3", "lab-8"]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const left = await nodes();
    expect(left.map((n) => n.metadata.name).sort()).toEqual(["lab-1", "lab-2", "lab-4", "lab-5", "lab-7"]);
    for (const n of left) expect(nodeReady(n), n.metadata.name).toBe(true);
    const members = await ssh(lab.state, "lab-2", ETCDCTL);
    expect(members.code, members.stderr).toBe(0);
    expect(members.stdout.trim().split("\n").map((l) => l.split(", ")[2]).sort()).toEqual(["lab-1", "lab-2"]);
    expect(await keepalivedPeers("lab-1")).toEqual([addr("lab-2")]);
    expect(await keepalivedPeers("lab-2")).toEqual([addr("lab-1")]);
    // the edge VIP's keepalived on lab-7 has no peer left (keepalived-edge applied for the hosts that stay), and lab-7 holds the VIP
    expect(await keepalivedPeers("lab-7")).toEqual([]);
    const edge = lab.state.vips.edge!;
    const held = await waitFor(async () => (await ssh(lab.state, "lab-7", "ip -4 -o addr show dev eth0")).stdout.includes(`${edge}/`), 30_000, 250);
    expect(held, `edge VIP ${edge} on lab-7`).toBe(true);
    // the hosts were reset as down resets them: nothing of kubeadm, no keepalived config (lab-3: the API VIP's; lab-8: the edge VIP's)
    for (const h of ["lab-3", "lab-6", "lab-8"]) {
      const gone = await ssh(lab.state, h, "test ! -e /etc/kubernetes/kubelet.conf && test ! -e /etc/keepalived/keepalived.conf");
      expect(gone.code, h).toBe(0);
    }
    const diff = await kubesmith(["addons", "diff", ...args("no368")]);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
  }, 900_000);

  it("refuses to remove one of two control planes (etcd would lose its quorum), exit 16, nothing changed", async () => {
    const r = await kubesmith(["remove-node", "--yes", "-o", "json", ...args("no368"), "lab-2"]);
    expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(16);
    expect(r.stderr.trim().split("\n")[0]).toMatch(/^kubesmith: refusing to remove control plane lab-2: etcd would lose its quorum: 2 members \(lab-\d healthy, lab-\d healthy\) need 2 up, and without lab-2 1 healthy would be left; nothing was changed/);
    expect(changesOf(r)).toEqual([]);
    expect((await nodes()).map((n) => n.metadata.name)).toContain("lab-2");
  }, 300_000);
});

// A control plane died: removing a healthy one is refused while it is down (etcd would keep 1 of 3), and
// the dead one itself can be removed (its Node and etcd member go; the host it cannot reach is not reset).
describe.skipIf(labSkip)("remove-node with a control plane down (lab 3cp,1w)", () => {
  let lab: StartedLab;
  let work = "";
  let without3 = "";
  const kubesmith = (args: string[]): Promise<Run> => runCli(args, { cwd: work, env: { CI: "true" } });
  const state = () => ["--state-dir", join(work, "state")];
  const addr = (h: string) => lab.state.hosts.find((x) => x.name === h)!.address;

  beforeAll(async () => {
    lab = await startLab({ name: "rmdead", layout: "3cp,1w" });
    work = mkdtempSync(join(tmpdir(), "kubesmith-rmdead-"));
    const doc = parse(readFileSync(lab.inventoryPath, "utf8")) as { hosts: { name: string }[] };
    doc.hosts = doc.hosts.filter((h) => h.name !== "lab-3");
    without3 = join(work, "without3.yaml");
    writeFileSync(without3, stringify(doc));
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
  });

  it("refuses a healthy control plane while another is down, naming it; removes the dead one", async () => {
    const up = await kubesmith(["up", "-o", "json", "-i", lab.inventoryPath, ...state()]);
    expect(up.code, up.stderr + up.stdout.slice(-2000)).toBe(0);
    await hostDown(lab.state.name, "lab-3");

    const refused = await kubesmith(["remove-node", "--yes", "-o", "json", "-i", lab.inventoryPath, ...state(), "--connect-timeout", "2", "--retry-budget", "0", "lab-2"]);
    expect(refused.code, refused.stderr + refused.stdout.slice(-2000)).toBe(16);
    expect(refused.stderr.trim().split("\n")[0]).toMatch(/^kubesmith: refusing to remove control plane lab-2: etcd would lose its quorum: 3 members \(lab-1 healthy, lab-2 healthy, lab-3 unhealthy\) need 2 up, and without lab-2 1 healthy would be left; nothing was changed/);
    expect(changesOf(refused)).toEqual([]);

    const r = await kubesmith(["remove-node", "--yes", "-o", "json", "-i", without3, ...state(), "--connect-timeout", "2", "--retry-budget", "0", "lab-3"]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const warnings = jsonEvents(r.stdout).filter((e) => e.kind === "warning").map((e) => (e as { message?: string }).message ?? "");
    expect(warnings).toContainEqual(expect.stringMatching(/^cannot reach lab-3 \(.+\): its Node and etcd member are removed, the host itself is not reset/));
    const kube = await KubeClient.fromKubeconfig(readFileSync(join(work, "state", lab.state.name, "kubeconfig"), "utf8"));
    try {
      const left = await kube.list("v1", "Node");
      expect(left.map((n) => n.metadata.name).sort()).toEqual(["lab-1", "lab-2", "lab-4"]);
      for (const n of left) expect(nodeReady(n), n.metadata.name).toBe(true);
    } finally {
      kube.close();
    }
    const members = await ssh(lab.state, "lab-1", ETCDCTL);
    expect(members.stdout.trim().split("\n").map((l) => l.split(", ")[2]).sort()).toEqual(["lab-1", "lab-2"]);
    const peers = await ssh(lab.state, "lab-2", "cat /etc/keepalived/keepalived.conf");
    expect(/unicast_peer \{([^}]*)\}/.exec(peers.stdout)?.[1]?.split(/\s+/).filter(Boolean)).toEqual([addr("lab-1")]);
    const diff = await kubesmith(["addons", "diff", "-i", without3, ...state()]);
    expect(diff.code, diff.stdout + diff.stderr).toBe(0);
  }, 600_000);
});
