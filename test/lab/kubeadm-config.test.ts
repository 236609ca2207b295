// The simulated kubeadm's config decoding (src/lab/sim/kubeadm-config.ts): pure, no lab needed.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { decodeKubeadmConfig, gvkString, kubeadmApiSupport, resolveKubernetesVersion } from "../../src/lab/sim/kubeadm-config.js";
import { DEFAULT_HARDWARE, hardware, swapOn } from "../../src/lab/sim/hardware.js";

const V135 = { kubeadmVersion: "v1.35.0" };
const init = (extra = "", api = "kubeadm.k8s.io/v1beta4") => `apiVersion: ${api}\nkind: InitConfiguration\n${extra}`;

describe("kubeadm config: API versions and kinds", () => {
  it("accepts every v1beta4 kind and the component configs on 1.35", () => {
    const text = [
      init("nodeRegistration:\n  name: cp1\n"),
      "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.35.0\n",
      "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n    token: abcdef.0123456789abcdef\n    apiServerEndpoint: 10.0.0.1:6443\n    caCertHashes: [sha256:00]\n",
      "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ResetConfiguration\nforce: true\n",
      "apiVersion: kubeadm.k8s.io/v1beta4\nkind: UpgradeConfiguration\nplan:\n  etcdUpgrade: false\n",
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\nfailCgroupV1: false\n",
      "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\n",
    ].join("---\n");
    const r = decodeKubeadmConfig(text, V135);
    expect(r.error).toBeUndefined();
    expect(r.warnings).toEqual([]);
    expect(r.docs.map((d) => d.kind)).toHaveLength(7);
  });

  it("v1beta3: deprecated (a warning) on 1.31-1.35, removed on 1.36", () => {
    const old = init("", "kubeadm.k8s.io/v1beta3");
    expect(decodeKubeadmConfig(old, { kubeadmVersion: "v1.30.4" }).warnings).toEqual([]);
    const r35 = decodeKubeadmConfig(old, V135);
    expect(r35.error).toBeUndefined();
    expect(r35.warnings[0]).toContain('your configuration file uses a deprecated API spec: "kubeadm.k8s.io/v1beta3" (kind: "InitConfiguration")');
    const r36 = decodeKubeadmConfig(old, { kubeadmVersion: "v1.36.0" });
    expect(r36.error).toContain('your configuration file uses an old API spec: "kubeadm.k8s.io/v1beta3" (kind: "InitConfiguration"). Please use kubeadm v1.35 instead');
  });

  it("v1beta4 is experimental (refused) before 1.31; v1beta2 and older are refused", () => {
    expect(decodeKubeadmConfig(init(), { kubeadmVersion: "v1.30.0" }).error).toContain('experimental API spec: "kubeadm.k8s.io/v1beta4" (kind: "InitConfiguration") is not allowed');
    expect(decodeKubeadmConfig(init("", "kubeadm.k8s.io/v1beta2"), V135).error).toContain("Please use kubeadm v1.22 instead");
    expect(kubeadmApiSupport("v1beta1", "InitConfiguration", 35)).toMatchObject({ ok: false });
  });

  it("ResetConfiguration and UpgradeConfiguration do not exist in v1beta3", () => {
    const r = decodeKubeadmConfig("apiVersion: kubeadm.k8s.io/v1beta3\nkind: ResetConfiguration\n", { kubeadmVersion: "v1.33.2", command: "reset" });
    expect(r.warnings).toContain(`unknown configuration ${gvkString("kubeadm.k8s.io/v1beta3", "ResetConfiguration")}`);
    expect(r.error).toBe("no JoinConfiguration found in the supplied config");
  });

  it("apiVersion and kind are mandatory, a kind may appear once, unknown groups are ignored with a warning", () => {
    expect(decodeKubeadmConfig("kind: InitConfiguration\n", V135).error).toBe(
      "invalid configuration for GroupVersionKind {Group: Version: Kind:InitConfiguration}: kind and apiVersion is mandatory information that must be specified",
    );
    expect(decodeKubeadmConfig(`${init()}---\n${init()}`, V135).error).toBe('invalid configuration: kind "InitConfiguration" is specified twice in YAML file');
    const r = decodeKubeadmConfig(`${init()}---\napiVersion: example.com/v1\nkind: Thing\n`, V135);
    expect(r.warnings).toEqual(["[config] WARNING: Ignored configuration document with GroupVersionKind example.com/v1, Kind=Thing"]);
  });

  it("init needs an InitConfiguration or a ClusterConfiguration, join a JoinConfiguration", () => {
    expect(decodeKubeadmConfig("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n", { ...V135, command: "init" }).error).toBe(
      "no InitConfiguration or ClusterConfiguration kind was found in the configuration file",
    );
    expect(decodeKubeadmConfig(init(), { ...V135, command: "join" }).error).toBe("no JoinConfiguration found in the supplied config");
  });

  it("a component config of another version is refused", () => {
    const r = decodeKubeadmConfig(`${init()}---\napiVersion: kubelet.config.k8s.io/v1\nkind: KubeletConfiguration\n`, V135);
    expect(r.error).toContain('unexpected apiVersion "kubelet.config.k8s.io/v1"');
  });
});

describe("kubeadm config: fields", () => {
  it("unknown fields: a klog warning for init/join, an error for config validate (strict)", () => {
    const text = init("nodeRegistration:\n  name: cp1\n  nodeIP: 10.0.0.1\nmetadata:\n  name: x\n");
    const r = decodeKubeadmConfig(text, V135);
    expect(r.error).toBeUndefined();
    expect(r.warnings).toEqual([
      `error unmarshaling configuration ${gvkString("kubeadm.k8s.io/v1beta4", "InitConfiguration")}: strict decoding error: unknown field "nodeRegistration.nodeIP", unknown field "metadata"`,
    ]);
    expect(r.unknownFields).toEqual(["InitConfiguration: nodeRegistration.nodeIP", "InitConfiguration: metadata"]);
    expect(decodeKubeadmConfig(text, { ...V135, strict: true }).error).toContain('strict decoding error: unknown field "nodeRegistration.nodeIP"');
  });

  it("field names are case-sensitive", () => {
    const r = decodeKubeadmConfig("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nControlPlaneEndpoint: 10.0.0.1:6443\n", V135);
    expect(r.unknownFields).toEqual(["ClusterConfiguration: ControlPlaneEndpoint"]);
  });

  it("v1beta4 extraArgs and kubeletExtraArgs are lists of name/value: a v1beta3 map is fatal", () => {
    const r = decodeKubeadmConfig(init("nodeRegistration:\n  kubeletExtraArgs:\n    node-ip: 10.0.0.1\n"), V135);
    expect(r.error).toBe("json: cannot unmarshal object into Go struct field NodeRegistrationOptions.nodeRegistration.kubeletExtraArgs of type []v1beta4.Arg");
    const c = decodeKubeadmConfig("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer:\n  extraArgs:\n    audit-log-maxage: '30'\n", V135);
    expect(c.error).toBe("json: cannot unmarshal object into Go struct field APIServer.apiServer.extraArgs of type []v1beta4.Arg");
    const ok = decodeKubeadmConfig(init("nodeRegistration:\n  kubeletExtraArgs:\n  - name: node-ip\n    value: 10.0.0.1\n"), V135);
    expect(ok.error).toBeUndefined();
    // and in v1beta3 the list is the wrong type
    const b3 = decodeKubeadmConfig(init("nodeRegistration:\n  kubeletExtraArgs:\n  - name: node-ip\n    value: 10.0.0.1\n", "kubeadm.k8s.io/v1beta3"), V135);
    expect(b3.error).toBe("json: cannot unmarshal array into Go struct field NodeRegistrationOptions.nodeRegistration.kubeletExtraArgs of type map[string]string");
  });

  it("an unquoted number where kubeadm wants a string is fatal; a string where it wants int32 too", () => {
    const r = decodeKubeadmConfig(init("nodeRegistration:\n  kubeletExtraArgs:\n  - name: v\n    value: 5\n"), V135);
    expect(r.error).toBe("json: cannot unmarshal number into Go struct field Arg.nodeRegistration.kubeletExtraArgs.value of type string");
    const p = decodeKubeadmConfig(init("localAPIEndpoint:\n  bindPort: '6443'\n"), V135);
    expect(p.error).toBe("json: cannot unmarshal string into Go struct field APIEndpoint.localAPIEndpoint.bindPort of type int32");
  });

  it("timeouts live in `timeouts` in v1beta4; timeoutForControlPlane and discovery.timeout are v1beta3 only", () => {
    const t = decodeKubeadmConfig(init("timeouts:\n  controlPlaneComponentHealthCheck: 4m0s\n"), V135);
    expect(t.warnings).toEqual([]);
    const old = decodeKubeadmConfig("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer:\n  timeoutForControlPlane: 4m0s\n", V135);
    expect(old.unknownFields).toEqual(["ClusterConfiguration: apiServer.timeoutForControlPlane"]);
    const bad = decodeKubeadmConfig(init("timeouts:\n  discovery: soon\n"), V135);
    expect(bad.error).toBe('time: invalid duration "soon"');
  });

  it("fields added in later v1beta4 releases exist only there", () => {
    const ext = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\netcd:\n  external:\n    endpoints: [https://10.0.0.5:2379]\n    httpEndpoints: [http://10.0.0.5:2381]\n";
    expect(decodeKubeadmConfig(ext, { kubeadmVersion: "v1.34.1" }).unknownFields).toEqual(["ClusterConfiguration: etcd.external.httpEndpoints"]);
    expect(decodeKubeadmConfig(ext, V135).unknownFields).toEqual([]);
  });

  it("an unknown KubeletConfiguration field is reported too", () => {
    const r = decodeKubeadmConfig(`${init()}---\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDrivr: systemd\n`, V135);
    expect(r.warnings[0]).toContain('Kind:"KubeletConfiguration"}: strict decoding error: unknown field "cgroupDrivr"');
  });
});

describe("kubernetesVersion labels offline", () => {
  it("a label falls back to the client version with kubeadm's two warnings; a version passes", () => {
    const r = resolveKubernetesVersion("stable-1.35", "v1.35.2", (url) => `Get "${url}": dial tcp: lookup dl.k8s.io: no such host`);
    expect(r.version).toBe("v1.35.2");
    expect(r.warnings[0]).toBe(
      'could not fetch a Kubernetes version from the internet: unable to get URL "https://dl.k8s.io/release/stable-1.35.txt": Get "https://dl.k8s.io/release/stable-1.35.txt": dial tcp: lookup dl.k8s.io: no such host',
    );
    expect(r.warnings[1]).toBe("falling back to the local client version: v1.35.2");
    expect(resolveKubernetesVersion("1.35.1", "v1.35.2", () => "")).toEqual({ version: "v1.35.1", warnings: [] });
  });
});

describe("simulated hardware", () => {
  it("defaults to 2 CPUs, 4 GiB, no swap, cgroup v2; a file overrides; swapoff turns swap off", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "kubesim-hw-"));
    try {
      const hw = path.join(dir, "hardware.json");
      const swap = path.join(dir, "swap.json");
      expect(hardware(hw)).toEqual(DEFAULT_HARDWARE);
      writeFileSync(hw, JSON.stringify({ cpus: 1, swapMiB: 2048, cgroup: "v1" }));
      expect(hardware(hw)).toEqual({ cpus: 1, memoryMiB: 4096, swapMiB: 2048, cgroup: "v1" });
      expect(swapOn(hardware(hw), swap)).toBe(true);
      writeFileSync(swap, JSON.stringify({ off: true }));
      expect(swapOn(hardware(hw), swap)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Go durations in kubeadm's timeouts (join's discovery)", () => {
  it("reads what kubeadm writes and users write", async () => {
    const { goDurationMs } = await import("../../src/lab/sim/kubeadm.js");
    expect(goDurationMs("5m0s")).toBe(300_000);
    expect(goDurationMs("30s")).toBe(30_000);
    expect(goDurationMs("1h2m3s")).toBe(3_723_000);
    expect(goDurationMs("1.5m")).toBe(90_000);
    expect(goDurationMs("250ms")).toBe(250);
  });
});
