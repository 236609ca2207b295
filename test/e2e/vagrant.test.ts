// `up` on the lab's vagrant network: every host has eth0 = the same NAT address with the default route (as
// VirtualBox gives every VM 10.0.2.15) and eth1 = the private network the inventory names. The product must
// pin the node IP, the advertise address and Calico's address detection to the private address; the lab
// catches each of those left to its default (kubeadm/kubelet take the default-route address, calico-node's
// first-found takes eth0), naming the reason.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient, nodeReady, type KubeObject } from "../../src/kube/client.js";
import { VAGRANT_NAT } from "../../src/lab/lab.js";
import { changesOf, kubesmith as runCli, type RunResult as Run } from "../helpers/cli.js";
import { labSkip, ssh, startLab, waitFor, type StartedLab } from "../helpers/lab.js";

let work = "";
const kubesmith = (args: string[]): Promise<Run> => runCli(args, { cwd: work, env: { CI: "true" } });

const internalIP = (n: KubeObject): string | undefined =>
  ((n["status"] as { addresses?: { type: string; address: string }[] }).addresses ?? []).find((a) => a.type === "InternalIP")?.address;
const readyMessage = (n: KubeObject): string =>
  ((n["status"] as { conditions?: { type: string; message: string }[] }).conditions ?? []).find((c) => c.type === "Ready")?.message ?? "";

describe.skipIf(labSkip)("up on the vagrant network (eth0 NAT on every host, eth1 private): 1 control plane, 1 worker, 1 frontend", () => {
  let lab: StartedLab;
  let inv: string;
  let kube: KubeClient | undefined;
  const args = () => ["-i", inv, "--state-dir", join(work, "state"), "-o", "json"];
  const client = async (): Promise<KubeClient> =>
    (kube ??= await KubeClient.fromKubeconfig(readFileSync(join(work, "state", lab.state.name, "kubeconfig"), "utf8")));

  beforeAll(async () => {
    lab = await startLab({ name: "e2evag", layout: "1cp,1w,1fe", network: "vagrant" });
    inv = lab.inventoryPath;
    work = mkdtempSync(join(tmpdir(), "kubesmith-vagrant-"));
  }, 120_000);
  afterAll(async () => {
    kube?.close();
    if (work) rmSync(work, { recursive: true, force: true });
    if (!lab) return;
    const { veths, namespaces } = lab.state;
    await lab.down();
    // lab down removed the NAT links as well (recorded in the state before they were made)
    for (const v of veths) expect(existsSync(`/sys/class/net/${v}`), v).toBe(false);
    for (const ns of namespaces) expect(existsSync(`/run/netns/${ns}`), ns).toBe(false);
  }, 60_000);

  it("every host looks like a VirtualBox VM: eth0 the same NAT address and the default route, eth1 the inventory's address", async () => {
    expect(lab.state.network).toBe("vagrant");
    expect(readFileSync(inv, "utf8")).toMatch(/interface: eth1/);
    for (const h of lab.state.hosts) {
      const r = await ssh(lab.state, h.name, "ip -4 -o addr show; ip route show default; cat /etc/hosts");
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`eth0\\s+inet ${VAGRANT_NAT.address.replace(/\./g, "\\.")}/24`));
      expect(r.stdout).toMatch(new RegExp(`eth1\\s+inet ${h.address.replace(/\./g, "\\.")}/24`));
      expect(r.stdout).toContain(`default via ${VAGRANT_NAT.gateway} dev eth0`);
      // Vagrant's /etc/hosts names only the VM itself (on a loopback address)
      expect(r.stdout).toMatch(new RegExp(`^127\\.0\\.1\\.1\\s+${h.name}$`, "m"));
      expect(r.stdout).not.toMatch(/^198\.18\.\d+\.\d+\s+lab-/m);
    }
    // the private network connects the hosts; the NAT side leads nowhere
    const r = await ssh(lab.state, "lab-2", `timeout 5 bash -c '</dev/tcp/${lab.state.hosts[0]!.address}/22' && echo private-ok; timeout 2 bash -c '</dev/tcp/${VAGRANT_NAT.gateway}/80' || echo nat-dead`);
    expect(r.stdout.trim().split("\n")).toEqual(["private-ok", "nat-dead"]);
  }, 60_000);

  it("up: every node Ready with its private address as InternalIP; kubeadm-config holds the pod subnet", async () => {
    const r = await kubesmith(["up", ...args()]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const k = await client();
    const nodes = await k.list("v1", "Node");
    expect(nodes.map((n) => `${n.metadata.name} ${internalIP(n)} ${nodeReady(n)}`).sort()).toEqual(lab.state.hosts.map((h) => `${h.name} ${h.address} true`));
    const cm = await k.get("v1", "ConfigMap", "kubeadm-config", "kube-system");
    expect((cm?.["data"] as Record<string, string>).ClusterConfiguration).toMatch(/podSubnet: 10\.244\.0\.0\/16/);
    expect(await k.get("v1", "ConfigMap", "kubelet-config", "kube-system")).toBeDefined();
    // the API server advertises the private address, not the default route's
    const cp = lab.state.hosts[0]!;
    const adv = await ssh(lab.state, cp.name, "grep -o -- '--advertise-address=.*' /etc/kubernetes/manifests/kube-apiserver.yaml");
    expect(adv.stdout.trim()).toBe(`--advertise-address=${cp.address}`);
  }, 300_000);

  it("a second up changes nothing", async () => {
    const r = await kubesmith(["up", ...args()]);
    expect(r.code, r.stderr).toBe(0);
    expect(changesOf(r).map((e) => `${e.host}: ${e.what}`)).toEqual([]);
  }, 180_000);

  it("calico-node without IP_AUTODETECTION_METHOD (first-found) takes the NAT address: the lab keeps the later nodes NotReady, naming the conflict", async () => {
    const k = await client();
    const ds = (await k.get("apps/v1", "DaemonSet", "calico-node", "kube-system"))!;
    const original = (ds as any).spec.template.spec.containers;
    const containers = structuredClone(original) as { name: string; env: { name: string }[] }[];
    const node = containers.find((c) => c.name === "calico-node")!;
    expect(node.env.some((e) => e.name === "IP_AUTODETECTION_METHOD")).toBe(true);
    node.env = node.env.filter((e) => e.name !== "IP_AUTODETECTION_METHOD");
    await k.mergePatch("apps/v1", "DaemonSet", "calico-node", { spec: { template: { spec: { containers } } } }, "kube-system");
    const broken = await waitFor(async () => {
      const nodes = await k.list("v1", "Node");
      const notReady = nodes.filter((n) => !nodeReady(n));
      return notReady.length === 2 ? notReady : undefined;
    }, 20_000);
    expect(broken, "two nodes NotReady").toBeDefined();
    for (const n of broken!) {
      expect(readyMessage(n)).toContain(`Calico node 'lab-1' is already using the IPv4 address ${VAGRANT_NAT.address} (first-found)`);
    }
    // put the product's DaemonSet back (up applies only objects whose revision label differs, so it would not)
    await k.mergePatch("apps/v1", "DaemonSet", "calico-node", { spec: { template: { spec: { containers: original } } } }, "kube-system");
    expect(await waitFor(async () => (await k.list("v1", "Node")).every((n) => nodeReady(n)), 20_000)).toBe(true);
  }, 120_000);

  it("kubeadm join left to its defaults (no node-ip): the kubelet registers the NAT address, and two such nodes conflict", async () => {
    const join = (await ssh(lab.state, "lab-1", "kubeadm token create --print-join-command")).stdout.trim();
    expect(join).toMatch(/^kubeadm join /);
    for (const h of ["lab-2", "lab-3"]) {
      const r = await ssh(lab.state, h, `kubeadm reset -f >/dev/null 2>&1; ${join}`);
      expect(r.code, r.stderr).toBe(0);
    }
    const k = await client();
    const nodes = await waitFor(async () => {
      const all = await k.list("v1", "Node");
      return all.some((n) => /already using the IPv4 address/.test(readyMessage(n))) ? all : undefined;
    }, 20_000);
    expect(nodes, "a node NotReady with the conflict").toBeDefined();
    const byName = new Map(nodes!.map((n) => [n.metadata.name, n]));
    expect(internalIP(byName.get("lab-2")!)).toBe(VAGRANT_NAT.address);
    expect(internalIP(byName.get("lab-3")!)).toBe(VAGRANT_NAT.address);
    // the Node that exists first keeps the address (checkConflictingNodes compares with Calico nodes already
    // there); lab-2 and lab-3 joined at once in the up above, so either may be the first: kubeadm reset keeps Nodes
    const [first, second] = ["lab-2", "lab-3"].sort((a, b) => nodes!.findIndex((n) => n.metadata.name === a) - nodes!.findIndex((n) => n.metadata.name === b));
    expect(readyMessage(byName.get(second!)!)).toContain(`Calico node '${first}' is already using the IPv4 address ${VAGRANT_NAT.address} (kubernetes-internal-ip)`);
    expect(readyMessage(byName.get(first!)!)).not.toMatch(/already using the IPv4 address/);
  }, 120_000);
});
