// The record of issue 10's "Real machines" defects: each one the product once had on real machines is put
// back as a mutation of the product's CURRENT output (its rendered Calico manifest, its kubeadm config, its
// rendered Traefik DaemonSet …) and fed, in-process, to the simulator component that must refuse it; the test
// asserts the refusal and its message. The same list, with the defects the lab cannot catch and why, is the
// table "Real-machine defects" in docs/lab-strictness.md. Defects only a lab host shows (firewalld's real
// nftables rules, the kubelet's preflight on the host's hardware) point at the lab test that shows them.
// Some judges exist only in-process because the lab runs no kube-proxy, no pods and no SELinux kernel: what a
// node answers on a port (apisim/node-ports.ts) and keepalived_t's connect rules (sim/selinux-keepalived.ts).
// No lab needed: runs without root.
import { describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCalicoManifest, renderCalico } from "../../src/addons/calico.js";
import { loadBundle } from "../../src/addons/catalog.js";
import { defaultRelease } from "../../src/addons/context.js";
import { renderCluster, renderHosts } from "../../src/addons/render.js";
import type { RenderContext } from "../../src/addons/types.js";
import { resolveValues } from "../../src/addons/values.js";
import { kubeadmInitConfig, kubeadmJoinConfig } from "../../src/scripts/kubeadm.js";
import {
  calicoContract,
  calicoNodeFailures,
  daemonSetNodes,
  nodeObject,
  viewFromObjects,
  type KObject,
  type NodeInterface,
} from "../../src/lab/apisim/index.js";
import { programConfigProblem } from "../../src/lab/apisim/program-config.js";
import { nodeAnswer } from "../../src/lab/apisim/node-ports.js";
import { networkManagerProblem } from "../../src/lab/apisim/controller.js";
import { podTemplateSpec } from "../../src/lab/apisim/workloads.js";
import { hostCalicoDevicesManaged } from "../../src/lab/sim/networkmanager.js";
import { keepalivedCheckDenial, vrrpScripts } from "../../src/lab/sim/selinux-keepalived.js";
import { APISERVER_CHECK_SCRIPT, apiserverHealthCheckScript, controlPlaneKeepalivedConfig } from "../../src/scripts/keepalived.js";
import { NM_CALICO_CONTENT } from "../../src/scripts/distro/rhel.js";
import { workloadProblem } from "../../src/lab/apisim/workloads.js";
import { decodeKubeadmConfig, docOf } from "../../src/lab/sim/kubeadm-config.js";
import { clusterSettingsFromConfigMaps, uploadedConfigMaps } from "../../src/lab/sim/kubeadm.js";
import { kubeletDefaultNodeIP } from "../../src/lab/sim/netinfo.js";
import { firewalldRuleset, rockyPublicZone } from "../../src/lab/sim/firewalld.js";
import { VAGRANT_NAT } from "../../src/lab/types.js";
import { KUBERNETES } from "../../src/versions.js";

const ADDONS = join(import.meta.dirname, "..", "..", "addons");
const POD_CIDR = "10.244.0.0/16";
const KUBEADM = `v${KUBERNETES.default}.0`;
const TOKEN = "abcdef.0123456789abcdef";
const HASH = `sha256:${"a".repeat(64)}`;

// ---- the product's outputs
async function productCalico(): Promise<KObject[]> {
  return renderCalico({ podCIDR: POD_CIDR, manifest: await loadCalicoManifest({ manifest: "compact" }) }) as unknown as KObject[];
}
const initConfig = (over: Partial<Parameters<typeof kubeadmInitConfig>[0]> = {}) =>
  kubeadmInitConfig({
    nodeName: "lab-1", nodeIP: "198.18.7.11", kubernetesVersion: KUBERNETES.default, advertiseAddress: "198.18.7.11",
    controlPlaneEndpoint: "198.18.7.11:6443", podSubnet: POD_CIDR, serviceSubnet: "10.96.0.0/12", ...over,
  });
/** kube-system/kubeadm-config and kubelet-config as the simulated kubeadm init uploads them from the product's init config. */
function uploadedMaps(initText: string, api = "kubeadm.k8s.io/v1beta4"): Record<"kubeadm-config" | "kubelet-config", KObject> {
  const decoded = decodeKubeadmConfig(initText, { kubeadmVersion: KUBEADM, command: "init" });
  expect(decoded.error).toBeUndefined();
  const cc = docOf(decoded, "ClusterConfiguration")!;
  return uploadedConfigMaps(
    { api, version: KUBEADM, podCIDR: cc.networking?.podSubnet, serviceCIDR: cc.networking?.serviceSubnet ?? "10.96.0.0/12", controlPlaneEndpoint: cc.controlPlaneEndpoint },
    { kubelet: docOf(decoded, "KubeletConfiguration") },
  ) as unknown as Record<"kubeadm-config" | "kubelet-config", KObject>;
}
const uploadedFrom = (initText: string): KObject => uploadedMaps(initText)["kubeadm-config"];

// ---- mutations
const ds = (objs: KObject[]): any => objs.find((o) => o.kind === "DaemonSet" && o.metadata.name === "calico-node");
const calicoNode = (objs: KObject[]): { env: { name: string; value?: string }[]; volumeMounts: { name: string }[] } =>
  ds(objs).spec.template.spec.containers.find((c: { name: string }) => c.name === "calico-node");
const installCni = (objs: KObject[]): { env: { name: string }[] } => ds(objs).spec.template.spec.initContainers.find((c: { name: string }) => c.name === "install-cni");
const mutate = (objs: KObject[], f: (o: KObject[]) => KObject[] | void): KObject[] => {
  const c = structuredClone(objs);
  return f(c) ?? c;
};
const violations = (objs: KObject[]) => calicoContract(ds(objs), viewFromObjects(objs)).map((v) => `${v.rule}: ${v.message} [${v.podState}]`);

describe("real-machine defects, each put back into the product's current output, and the lab rule that refuses it", () => {
  it("the product's current Calico manifest, with kubeadm-config as the simulated kubeadm uploads it, breaks no rule", async () => {
    expect(violations([...(await productCalico()), uploadedFrom(initConfig())])).toEqual([]);
  });

  it("Calico without its CRDs: calico-node's startup cannot read them (CrashLoopBackOff)", async () => {
    const objs = mutate(await productCalico(), (o) => o.filter((x) => x.kind !== "CustomResourceDefinition"));
    const v = violations(objs);
    expect(v).toHaveLength(1);
    expect(v[0]).toMatch(/^crds: CustomResourceDefinitions calico-node needs are not ready: clusterinformations\.crd\.projectcalico\.org \(missing\), .* \[CrashLoopBackOff\]$/);
  });

  it("without the calico-cni-plugin ServiceAccount, or without RBAC for its token: install-cni fails (Init:CrashLoopBackOff)", async () => {
    const base = await productCalico();
    expect(violations(mutate(base, (o) => o.filter((x) => !(x.kind === "ServiceAccount" && x.metadata.name === "calico-cni-plugin"))))).toContain(
      "service-accounts: ServiceAccount kube-system/calico-cni-plugin not found [Init:CrashLoopBackOff]",
    );
    const noToken = mutate(base, (o) => {
      const role = o.find((x) => x.kind === "ClusterRole" && x.metadata.name === "calico-node")!;
      role["rules"] = (role["rules"] as { resources?: string[] }[]).filter((r) => !r.resources?.includes("serviceaccounts/token"));
    });
    expect(violations(noToken).join("\n")).toContain(
      'cni-token-rbac: install-cni cannot get the CNI token: serviceaccounts "calico-cni-plugin" is forbidden: User "system:serviceaccount:kube-system:calico-node" cannot create resource "serviceaccounts/token"',
    );
  });

  it("install-cni without SLEEP=false: the init container never exits (Init:CrashLoopBackOff)", async () => {
    const objs = mutate(await productCalico(), (o) => {
      installCni(o).env = installCni(o).env.filter((e) => e.name !== "SLEEP");
    });
    expect(violations(objs)).toEqual([
      "install-cni-sleep: init container install-cni has no SLEEP env; without SLEEP=false the installer does not exit, so calico-node never starts [Init:CrashLoopBackOff]",
    ]);
  });

  it("no cni-net-dir mount: the CNI token is never refreshed", async () => {
    const objs = mutate(await productCalico(), (o) => {
      calicoNode(o).volumeMounts = calicoNode(o).volumeMounts.filter((m) => m.name !== "cni-net-dir");
    });
    expect(violations(objs)).toEqual([
      "cni-net-dir: container calico-node does not mount hostPath /etc/cni/net.d writable at /host/etc/cni/net.d, so the CNI plugin's token is never refreshed [Running]",
    ]);
  });

  it("the pool CIDR outside kubeadm's podSubnet is caught through the kubeadm-config the simulated kubeadm uploads", async () => {
    // the upstream manifest's example pool (192.168.0.0/16) set while kubeadm's podSubnet is the product's
    const objs = mutate(await productCalico(), (o) => {
      calicoNode(o).env.find((e) => e.name === "CALICO_IPV4POOL_CIDR")!.value = "192.168.0.0/16";
    });
    expect(violations([...objs, uploadedFrom(initConfig())])).toEqual([
      "ipv4-pool-cidr: IPv4 pool 192.168.0.0/16 (CALICO_IPV4POOL_CIDR) is not inside the cluster's pod CIDR 10.244.0.0/16 (kubeadm-config podSubnet) [Running]",
    ]);
    // with no CALICO_IPV4POOL_CIDR at all, calico-node takes the podSubnet from the uploaded kubeadm-config: no defect
    const unset = mutate(await productCalico(), (o) => {
      calicoNode(o).env = calicoNode(o).env.filter((e) => e.name !== "CALICO_IPV4POOL_CIDR");
    });
    expect(violations([...unset, uploadedFrom(initConfig())])).toEqual([]);
    // and the other way round: the manifest's pool right, kubeadm's podSubnet another one
    expect(violations([...(await productCalico()), uploadedFrom(initConfig({ podSubnet: "10.32.0.0/12" }))])).toEqual([
      "ipv4-pool-cidr: IPv4 pool 10.244.0.0/16 (CALICO_IPV4POOL_CIDR) is not inside the cluster's pod CIDR 10.32.0.0/12 (kubeadm-config podSubnet) [Running]",
    ]);
  });

  it("kubeadm join takes the cluster's settings from kube-system/kubeadm-config and kubelet-config; without them it stops in preflight", () => {
    const maps = uploadedMaps(initConfig());
    const ok = (m: KObject) => ({ status: 200, body: m });
    const notFound = (name: string) => ({ status: 404, body: { kind: "Status", message: `configmaps "${name}" not found` } });
    const read = clusterSettingsFromConfigMaps(ok(maps["kubeadm-config"]), ok(maps["kubelet-config"]), KUBEADM);
    if ("error" in read) throw new Error(read.error);
    // what the product's init config put there reaches the joining nodes: the endpoint, the kubelets' cgroup driver
    expect(read.cluster.controlPlaneEndpoint).toBe("198.18.7.11:6443");
    expect(read.kubelet.cgroupDriver).toBe("systemd");
    expect(clusterSettingsFromConfigMaps(notFound("kubeadm-config"), ok(maps["kubelet-config"]), KUBEADM)).toEqual({
      error: 'unable to fetch the kubeadm-config ConfigMap: failed to get config map: configmaps "kubeadm-config" not found',
    });
    expect(clusterSettingsFromConfigMaps(ok(maps["kubeadm-config"]), notFound("kubelet-config"), KUBEADM)).toEqual({
      error: 'unable to fetch the kubeadm-config ConfigMap: failed to get component configs: configmaps "kubelet-config" not found',
    });
    // a ClusterConfiguration in an API this kubeadm no longer registers (v1beta3, removed in 1.36)
    const old = uploadedMaps(initConfig(), "kubeadm.k8s.io/v1beta3");
    expect(clusterSettingsFromConfigMaps(ok(old["kubeadm-config"]), ok(old["kubelet-config"]), "v1.36.0")).toEqual({
      error:
        'unable to fetch the kubeadm-config ConfigMap: failed to decode cluster configuration data: no kind "ClusterConfiguration" is registered for version "kubeadm.k8s.io/v1beta3" in scheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31"',
    });
  });

  it("vagrant, several NICs: without node-ip the kubelet registers the NAT address, and calico-node's addresses collide", async () => {
    // a Vagrant VM: eth0 NAT (default route), eth1 private; /etc/hosts names the VM on a loopback address only
    const dir = mkdtempSync(join(tmpdir(), "defects-"));
    const hosts = join(dir, "hosts");
    writeFileSync(hosts, "127.0.0.1\tlocalhost\n127.0.1.1\tlab-2\n127.0.1.1\tlab-3\n");
    const nics = (ip: string): NodeInterface[] => [
      { name: "lo", ipv4: ["127.0.0.1/8"] },
      { name: "eth0", ipv4: [`${VAGRANT_NAT.address}/24`], defaultRoute: true },
      { name: "eth1", ipv4: [`${ip}/24`] },
    ];
    const join_ = (name: string, ip: string, withNodeIp: boolean) => {
      let text = kubeadmJoinConfig({ kind: "worker", nodeName: name, nodeIP: ip, apiServerEndpoint: "198.18.7.11:6443", token: TOKEN, caCertHashes: [HASH] });
      if (!withNodeIp) text = text.replace(/\n\s*kubeletExtraArgs:\n(\s+- name: node-ip\n\s+value: \S+\n)/, "\n");
      const jc = docOf(decodeKubeadmConfig(text, { kubeadmVersion: KUBEADM, command: "join" }), "JoinConfiguration")!;
      const nodeIp = (jc.nodeRegistration?.kubeletExtraArgs ?? []).find((a: { name: string }) => a.name === "node-ip")?.value as string | undefined;
      // the simulated kubelet: node-ip if given, else as pkg/kubelet/nodestatus finds it
      return { name, internalIP: nodeIp ?? kubeletDefaultNodeIP(name, nics(ip), hosts)!, interfaces: nics(ip) };
    };
    const calico = await productCalico();
    const failing = (withNodeIp: boolean) =>
      [...calicoNodeFailures(ds(calico), viewFromObjects(calico), [join_("lab-2", "198.18.7.12", withNodeIp), join_("lab-3", "198.18.7.13", withNodeIp)]).values()].map((v) => v.message);
    expect(join_("lab-2", "198.18.7.12", true).internalIP).toBe("198.18.7.12");
    expect(join_("lab-2", "198.18.7.12", false).internalIP).toBe(VAGRANT_NAT.address);
    expect(failing(true)).toEqual([]);
    expect(failing(false)).toEqual([
      `on node lab-3: Calico node 'lab-2' is already using the IPv4 address ${VAGRANT_NAT.address} (kubernetes-internal-ip); calico-node exits (IPv4 address conflict)`,
    ]);
    // the product's manifest without IP_AUTODETECTION_METHOD=kubernetes-internal-ip: first-found takes eth0
    const firstFound = mutate(calico, (o) => {
      calicoNode(o).env = calicoNode(o).env.filter((e) => e.name !== "IP_AUTODETECTION_METHOD");
    });
    const nodes = [join_("lab-2", "198.18.7.12", true), join_("lab-3", "198.18.7.13", true)];
    expect([...calicoNodeFailures(ds(firstFound), viewFromObjects(firstFound), nodes).values()].map((v) => v.message)).toEqual([
      `on node lab-3: Calico node 'lab-2' is already using the IPv4 address ${VAGRANT_NAT.address} (first-found); calico-node exits (IPv4 address conflict)`,
    ]);
  });

  it("Traefik without the frontend taint's toleration: its DaemonSet is scheduled on 0 nodes", async () => {
    const edge = { key: "example.com/edge", effect: "NoSchedule" as const };
    const hosts: RenderContext["cluster"]["hosts"] = [
      { name: "cp1", address: "198.18.10.1", roles: ["control-plane"], taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }] },
      { name: "edge1", address: "198.18.10.11", roles: ["worker", "frontend"], taints: [edge] },
      { name: "w1", address: "198.18.10.21", roles: ["worker"], taints: [] },
    ];
    const b = await loadBundle(join(ADDONS, "traefik"));
    const rendered = renderCluster(b, {
      values: resolveValues(b, { dashboard: { password: "An0ther-Gen-Pass" } }, "inventory.yaml"),
      release: defaultRelease(b),
      images: { ...(b.manifest.images ?? {}) },
      cluster: { name: "lab", podCIDR: POD_CIDR, serviceCIDR: "10.96.0.0/12", edgeVIP: { vip: "198.18.10.100", interface: "eth0", prefix: 24 }, hosts, frontendTaints: [edge], access: { node: "198.18.10.11", frontend: "198.18.10.100" } },
    });
    const traefik = rendered.objects.find((o) => o.kind === "DaemonSet") as unknown as KObject;
    const nodes = hosts.map((h) =>
      nodeObject({ name: h.name, address: h.address, controlPlane: h.roles.includes("control-plane"), taints: h.taints, labels: h.roles.includes("frontend") ? { role: "frontend" } : {} }),
    );
    expect(daemonSetNodes(traefik, nodes)).toEqual(["edge1"]);
    const untolerating = structuredClone(traefik) as any;
    untolerating.spec.template.spec.tolerations = (untolerating.spec.template.spec.tolerations ?? []).filter((t: { key?: string }) => t.key !== edge.key);
    expect(daemonSetNodes(untolerating, nodes)).toEqual([]);
  });

  it("Filebeat 9 with a `container` (or `log`) input: the API simulator reads the mounted filebeat.yml and the pod crash-loops", async () => {
    const b = await loadBundle(join(ADDONS, "filebeat"));
    const hosts: RenderContext["cluster"]["hosts"] = [{ name: "cp1", address: "198.18.10.1", roles: ["control-plane"], taints: [] }];
    const rendered = renderCluster(b, {
      values: resolveValues(b, {}, "inventory.yaml"),
      release: defaultRelease(b),
      images: { ...(b.manifest.images ?? {}) },
      cluster: { name: "lab", podCIDR: POD_CIDR, serviceCIDR: "10.96.0.0/12", hosts, frontendTaints: [], access: { node: "198.18.10.1", frontend: "198.18.10.1" } },
    });
    const objs = rendered.objects as unknown as KObject[];
    const daemonSet = objs.find((o) => o.kind === "DaemonSet")! as any;
    const configMap = objs.find((o) => o.kind === "ConfigMap")! as any;
    const ns = daemonSet.metadata.namespace as string;
    const pod = daemonSet.spec.template.spec;
    const container = pod.containers.find((c: { name: string }) => c.name === "filebeat");
    expect(container.image).toMatch(/filebeat:9\./);
    // today's product: filestream inputs only
    expect(programConfigProblem(pod, container, ns, [configMap])).toBeUndefined();
    const view = (cm: KObject) => ({ serviceAccounts: objs.filter((o) => o.kind === "ServiceAccount"), configMaps: [cm], rbac: { clusterRoles: objs.filter((o) => o.kind === "ClusterRole"), clusterRoleBindings: objs.filter((o) => o.kind === "ClusterRoleBinding"), roles: [], roleBindings: [] } });
    expect(workloadProblem(daemonSet, view(configMap))).toBeUndefined();
    // the defect put back: the first input as Filebeat 8's `container` input
    const broken = structuredClone(configMap);
    const yml = broken.data["filebeat.yml"] as string;
    expect(yml).toMatch(/- type: filestream/);
    broken.data["filebeat.yml"] = yml.replace("- type: filestream", "- type: container");
    expect(workloadProblem(daemonSet, view(broken))).toEqual({
      state: "CrashLoopBackOff",
      reason: "CrashLoopBackOff",
      message:
        'container filebeat exits at startup: /etc/filebeat/filebeat.yml filebeat.inputs[0]: the "container" input is deprecated and disabled in Filebeat 9 unless the input sets allow_deprecated_use: true; Filebeat does not start (use the filestream input with the container parser)',
    });
    // upstream's escape hatch is honoured, and Filebeat 8 still runs it
    broken.data["filebeat.yml"] = yml.replace("- type: filestream", "- type: container\n    allow_deprecated_use: true");
    expect(programConfigProblem(pod, container, ns, [broken])).toBeUndefined();
    broken.data["filebeat.yml"] = yml.replace("- type: filestream", "- type: log");
    expect(programConfigProblem(pod, container, ns, [broken])).toMatch(/the "log" input is deprecated and disabled in Filebeat 9/);
    expect(programConfigProblem(pod, { ...container, image: "docker.elastic.co/beats/filebeat:8.19.0" }, ns, [broken])).toBeUndefined();
  });

  it("the edge VIP check: a node answers it only where kube-proxy or a host port serves it (localhost NodePorts: not in nftables mode)", async () => {
    const edge = { key: "example.com/edge", effect: "NoSchedule" as const };
    const hosts: RenderContext["cluster"]["hosts"] = [
      { name: "cp1", address: "198.18.10.1", roles: ["control-plane"], taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }] },
      { name: "edge1", address: "198.18.10.11", roles: ["worker", "frontend"], taints: [edge] },
      { name: "edge2", address: "198.18.10.12", roles: ["worker", "frontend"], taints: [edge] },
    ];
    const cluster: RenderContext["cluster"] = { name: "lab", podCIDR: POD_CIDR, serviceCIDR: "10.96.0.0/12", edgeVIP: { vip: "198.18.10.100", interface: "eth0", prefix: 24 }, hosts, frontendTaints: [edge], access: { node: "198.18.10.11", frontend: "198.18.10.100" } };
    const traefikBundle = await loadBundle(join(ADDONS, "traefik"));
    const traefik = (values: Record<string, unknown>) =>
      renderCluster(traefikBundle, {
        values: resolveValues(traefikBundle, { dashboard: { password: "An0ther-Gen-Pass" }, ...values }, "inventory.yaml"),
        release: defaultRelease(traefikBundle),
        images: { ...(traefikBundle.manifest.images ?? {}) },
        cluster,
      }).objects as unknown as KObject[];
    // the pods the DaemonSet runs on the frontends, Ready or not (its own Traefik died)
    const podsOf = (objs: KObject[], ready: Record<string, boolean>): KObject[] => {
      const ds = objs.find((o) => o.kind === "DaemonSet") as any;
      return Object.entries(ready).map(([node, ok]) => ({
        apiVersion: "v1", kind: "Pod",
        metadata: { name: `${ds.metadata.name}-${node}`, namespace: ds.metadata.namespace, labels: ds.spec.template.metadata.labels },
        spec: { ...ds.spec.template.spec, nodeName: node },
        status: { phase: "Running", conditions: [{ type: "Ready", status: ok ? "True" : "False" }] },
      })) as unknown as KObject[];
    };
    const nodes = Object.fromEntries(hosts.map((h) => [h.name, nodeObject({ name: h.name, address: h.address })]));
    const proxyMode = (mode: string): KObject => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "kube-proxy", namespace: "kube-system" }, data: { "config.conf": `apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ${mode}\n` } }) as unknown as KObject;

    // today's product: keepalived-edge checks http://<the host's own address>:80/ping; Traefik serves hostPort 80
    const kaBundle = await loadBundle(join(ADDONS, "keepalived-edge"));
    const ka = renderHosts(kaBundle, { values: resolveValues(kaBundle, { authPass: "Gen3rate" }, "inventory.yaml"), release: defaultRelease(kaBundle), images: {}, cluster });
    const conf = ka.files["edge1"]!.find((f) => f.path === "/etc/keepalived/keepalived.conf")!.content;
    const m = /script "\/usr\/bin\/curl [^"]* http:\/\/([\d.]+):(\d+)\/ping"/.exec(conf);
    expect(m, conf).not.toBeNull();
    const [addr, port] = [m![1]!, Number(m![2])];
    expect(addr).toBe("198.18.10.11");
    const hostPortMode = traefik({});
    const answer = (node: string, a: string, p: number, objs: KObject[], ready: Record<string, boolean>, mode = "iptables") =>
      nodeAnswer(nodes[node]!, a, p, { pods: podsOf(objs, ready), services: objs.filter((o) => o.kind === "Service"), configMaps: [proxyMode(mode)] });
    for (const mode of ["iptables", "nftables", "ipvs"]) {
      expect(answer("edge1", addr, port, hostPortMode, { edge1: true, edge2: true }, mode)).toEqual({ served: true, by: expect.stringMatching(/^hostPort 80 of pod .*-edge1$/) });
      // its own Traefik dead: the check fails on this host (and the VIP moves), whatever the other frontend does
      expect(answer("edge1", addr, port, hostPortMode, { edge1: false, edge2: true }, mode)).toEqual({ served: false, message: "Failed to connect to 198.18.10.11 port 80: Connection refused" });
    }

    // the defect put back: the check on 127.0.0.1:<NodePort> with Traefik behind a NodePort Service
    const nodePortMode = traefik({ mode: "nodePort", service: { webNodePort: 30087, websecureNodePort: 30088 } });
    expect(nodePortMode.find((o) => o.kind === "Service" && (o as any).spec.type === "NodePort")).toBeDefined();
    // nftables mode: localhost NodePorts do not answer, so the check always fails (on every frontend: the VIP never settles on a healthy one)
    expect(answer("edge1", "127.0.0.1", 30087, nodePortMode, { edge1: true, edge2: true }, "nftables")).toEqual({ served: false, message: "Failed to connect to 127.0.0.1 port 30087: Connection refused" });
    // iptables mode: the node's own traffic goes to any Ready endpoint, so edge1 passes with its own Traefik dead
    expect(answer("edge1", "127.0.0.1", 30087, nodePortMode, { edge1: false, edge2: true }, "iptables")).toEqual({ served: true, by: expect.stringContaining("→ any of 1 Ready endpoint(s) on edge2") });
  });

  it("NetworkManager managing Calico's interfaces: without the product's unmanaged-devices keyfile, pods with network probes on that node never get Ready", async () => {
    // a Rocky 9 host's /etc/NetworkManager (NetworkManager running), with and without the product's conf.d file
    const etc = join(mkdtempSync(join(tmpdir(), "defects-nm-")), "NetworkManager");
    mkdirSync(join(etc, "conf.d"), { recursive: true });
    writeFileSync(join(etc, "NetworkManager.conf"), "[main]\n#plugins=keyfile,ifcfg-rh\n");
    writeFileSync(join(etc, "conf.d", "calico.conf"), NM_CALICO_CONTENT);
    expect(hostCalicoDevicesManaged(true, etc)).toEqual([]);
    expect(hostCalicoDevicesManaged(false, etc)).toEqual([]);
    // a later file replacing the key with only cali*, then the product's file gone
    writeFileSync(join(etc, "conf.d", "zz-local.conf"), "[keyfile]\nunmanaged-devices=interface-name:cali*\n");
    expect(hostCalicoDevicesManaged(true, etc)).toEqual(["tunl*", "vxlan.calico"]);
    writeFileSync(join(etc, "conf.d", "zz-local.conf"), "[keyfile]\nunmanaged-devices+=interface-name:eth9\n");
    expect(hostCalicoDevicesManaged(true, etc)).toEqual([]);
    rmSync(join(etc, "conf.d", "calico.conf"));
    const managed = hostCalicoDevicesManaged(true, etc);
    expect(managed).toEqual(["cali*", "tunl*", "vxlan.calico"]);
    // the simulated kubelet records it on the Node; a pod with an HTTP readiness probe there is Running, not Ready
    const b = await loadBundle(join(ADDONS, "hello"));
    const rendered = renderCluster(b, {
      values: resolveValues(b, {}, "inventory.yaml"), release: defaultRelease(b), images: { ...(b.manifest.images ?? {}) },
      cluster: { name: "lab", podCIDR: POD_CIDR, serviceCIDR: "10.96.0.0/12", hosts: [{ name: "w1", address: "198.18.10.21", roles: ["worker"], taints: [] }], frontendTaints: [], access: { node: "198.18.10.21", frontend: "198.18.10.21" } },
    });
    const workload = rendered.objects.find((o) => o.kind === "Deployment") as unknown as KObject;
    const spec = podTemplateSpec(workload)!;
    expect(networkManagerProblem(nodeObject({ name: "w1", address: "198.18.10.21" }), spec)).toBeUndefined();
    expect(networkManagerProblem(nodeObject({ name: "w1", address: "198.18.10.21", networkManagerManages: managed }), spec)).toMatch(
      /^Readiness probe failed: httpGet probe of container \S+ to the pod's IP timed out: NetworkManager manages Calico's interfaces \(cali\*, tunl\*, vxlan\.calico\) on node w1/,
    );
    // hostNetwork pods do not use Calico's routes
    expect(networkManagerProblem(nodeObject({ name: "w1", address: "198.18.10.21", networkManagerManages: managed }), { ...spec, hostNetwork: true })).toBeUndefined();
  });

  it("SELinux enforcing and the keepalived checks: the control plane's curl to 6443 is denied to keepalived_t (the product sets SELinux permissive)", async () => {
    const conf = controlPlaneKeepalivedConfig({ vip: "198.18.10.100", interface: "eth0", routerId: 51, priority: 150, peers: ["198.18.10.2"], self: "198.18.10.1", healthCheck: APISERVER_CHECK_SCRIPT });
    const [script] = vrrpScripts(conf);
    expect(script).toBe(APISERVER_CHECK_SCRIPT);
    const files = (f: string) => (f === APISERVER_CHECK_SCRIPT ? apiserverHealthCheckScript() : undefined);
    // the defect put back: a Rocky 9 host left enforcing (the product's OS step sets it permissive)
    expect(keepalivedCheckDenial(script!, files, { mode: "Enforcing" })).toMatch(
      /^SELinux is enforcing: the check "\/etc\/keepalived\/check_apiserver\.sh" runs in keepalived_t .* may not connect to tcp port 6443 .*keepalived_connect_any is off, so the check always fails$/,
    );
    expect(keepalivedCheckDenial(script!, files, { mode: "Permissive" })).toBeUndefined();
    expect(keepalivedCheckDenial(script!, files, { mode: "Enforcing", booleans: { keepalived_connect_any: true } })).toBeUndefined();
    expect(keepalivedCheckDenial("/usr/libexec/keepalived/check_apiserver.sh", () => apiserverHealthCheckScript(), { mode: "Enforcing" })).toBeUndefined();
    // the edge check: today's curl to port 80 (http_port_t) is allowed even enforcing; the old NodePort 30087 is not
    const kaBundle = await loadBundle(join(ADDONS, "keepalived-edge"));
    const hosts: RenderContext["cluster"]["hosts"] = [{ name: "edge1", address: "198.18.10.11", roles: ["worker", "frontend"], taints: [] }];
    const ka = renderHosts(kaBundle, {
      values: resolveValues(kaBundle, { authPass: "Gen3rate" }, "inventory.yaml"), release: defaultRelease(kaBundle), images: {},
      cluster: { name: "lab", podCIDR: POD_CIDR, serviceCIDR: "10.96.0.0/12", edgeVIP: { vip: "198.18.10.100", interface: "eth0", prefix: 24 }, hosts, frontendTaints: [], access: { node: "198.18.10.11", frontend: "198.18.10.100" } },
    });
    const [edgeCheck] = vrrpScripts(ka.files["edge1"]!.find((f) => f.path === "/etc/keepalived/keepalived.conf")!.content);
    expect(edgeCheck).toMatch(/^\/usr\/bin\/curl .* http:\/\/198\.18\.10\.11:80\/ping$/);
    expect(keepalivedCheckDenial(edgeCheck!, () => undefined, { mode: "Enforcing" })).toBeUndefined();
    expect(keepalivedCheckDenial("/usr/bin/curl -sf http://127.0.0.1:30087/ping", () => undefined, { mode: "Enforcing" })).toMatch(/may not connect to tcp port 30087/);
  });

  it("Rocky 9's firewalld: a fresh host's public zone rejects 6443, 10250, 179 (the lab loads this ruleset as real nftables)", () => {
    const rules = firewalldRuleset(rockyPublicZone());
    expect(rules).toContain("reject with icmpx type admin-prohibited");
    for (const port of ["6443", "10250", "2379", "179"]) expect(rules).not.toMatch(new RegExp(`dport ${port}\\b`));
    expect(rules).toMatch(/dport 22\b/);
  });
});
