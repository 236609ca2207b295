// The upgrade's refusals as pure rules: one minor at a time, no downgrade, supported minors only, and the
// Kubernetes ranges Calico and the add-ons declare (addon.yaml `kubernetes:`).
import { describe, expect, it } from "vitest";
import { loadCatalog } from "../../src/addons/catalog.js";
import { VersionChangeError } from "../../src/errors.js";
import type { ClusterContext } from "../../src/phases/context.js";
import { lowestMinor, rangeProblems, refuseVersionChange, upgradePathProblem } from "../../src/phases/upgrade.js";
import { parseKubeRange } from "../../src/util/kube-range.js";
import { CALICO, KUBERNETES } from "../../src/versions.js";

describe("upgrade path", () => {
  it("allows the next minor and the same minor (a re-run, or a patch)", () => {
    expect(upgradePathProblem("1.35", "1.36")).toBeUndefined();
    expect(upgradePathProblem("1.36", "1.36.2")).toBeUndefined();
  });
  it("refuses to skip a minor, naming the next step", () => {
    // 1.37 is not supported either; a skip inside the supported list is what the rule is about
    const supported = KUBERNETES.supported;
    const oldest = supported[0]!;
    const skip = `1.${Number(oldest.split(".")[1]) + 2}`;
    const p = upgradePathProblem(`1.${Number(oldest.split(".")[1]) - 1}`, supported[supported.length - 1]!, "--to");
    expect(p).toMatch(/skips a minor: the cluster runs 1\.\d+, and kubeadm upgrades one minor at a time; run 'kubesmith upgrade --to 1\.\d+' first$/);
    expect(upgradePathProblem(oldest, skip)).toMatch(/not one kubesmith installs|skips a minor/);
  });
  it("refuses a downgrade", () => {
    expect(upgradePathProblem("1.36", "1.35", "--to")).toBe(
      "--to Kubernetes 1.35 is older than the cluster's 1.36: kubesmith does not downgrade (kubeadm does not either); restore from a backup or rebuild",
    );
  });
  it("refuses a minor kubesmith does not install", () => {
    expect(upgradePathProblem("1.36", "1.37")).toMatch(/^the target Kubernetes 1\.37 is not one kubesmith installs \(supported: 1\.35, 1\.36\)$/);
  });
  it("takes the lowest minor the control planes run", () => {
    expect(lowestMinor(["v1.36.3", "v1.35.8", "v1.36.3"])).toBe("1.35");
    expect(lowestMinor([])).toBeUndefined();
  });
});

describe("declared Kubernetes ranges", () => {
  it("parses comparators on minors and refuses anything else", () => {
    const r = parseKubeRange(">=1.34 <=1.36");
    expect(["1.33", "1.34", "1.36", "1.37", "v1.36.2"].map((v) => r.test(v))).toEqual([false, true, true, false, true]);
    expect(parseKubeRange("<1.37").test("1.36")).toBe(true);
    expect(() => parseKubeRange(">=1.34 <=latest")).toThrow(/'<=latest', not a comparator/);
    expect(() => parseKubeRange("")).toThrow(/is empty/);
  });
  it("names every add-on whose range leaves out the target", () => {
    expect(rangeProblems([{ name: "calico v3.32.1", range: ">=1.34 <=1.36" }, { name: "grafana", range: ">=1.35 <=1.36" }], "1.37")).toEqual([
      'calico v3.32.1 (declares kubernetes ">=1.34 <=1.36")',
      'grafana (declares kubernetes ">=1.35 <=1.36")',
    ]);
    expect(rangeProblems([{ name: "grafana", range: ">=1.35 <=1.36" }], "1.36")).toEqual([]);
  });
  it("Calico and every built-in cluster bundle declare a range that covers every supported minor", async () => {
    const catalog = await loadCatalog({ onWarning: () => undefined });
    for (const m of KUBERNETES.supported) expect(parseKubeRange(CALICO.kubernetes).test(m), `calico ${m}`).toBe(true);
    for (const b of catalog.values()) {
      if (b.manifest.target !== "cluster") continue;
      expect(b.manifest.kubernetes, b.manifest.name).toBeDefined();
      for (const m of KUBERNETES.supported) expect(parseKubeRange(b.manifest.kubernetes!).test(m), `${b.manifest.name} ${m}`).toBe(true);
    }
  });
});

describe("up on a built cluster of another minor", () => {
  // the parts of a run's context the phase reads: joined hosts, their facts, the inventory
  const ctx = (kubelets: Record<string, string>, wanted: string) =>
    ({
      joined: new Set(Object.keys(kubelets)),
      facts: new Map(Object.entries(kubelets).map(([h, v]) => [h, { kubeletVersion: v }])),
      model: { hosts: ["cp1", "w1", "w2"].map((name) => ({ name })), inventory: { cluster: { kubernetesVersion: wanted } }, loaded: { file: "inv.yaml" } },
      options: { inventory: "inv.yaml" },
    }) as unknown as ClusterContext;

  it("refuses with exit 15 and one line naming the running minor, a host and kubesmith upgrade", async () => {
    const run = refuseVersionChange.run(ctx({ cp1: "v1.35.8", w1: "v1.35.8", w2: "v1.36.3" }, "1.36"));
    await expect(run).rejects.toBeInstanceOf(VersionChangeError);
    await expect(run).rejects.toMatchObject({
      exitCode: 15,
      message: "the cluster runs Kubernetes 1.35 (kubelet v1.35.8 on cp1 and 1 more) but inv.yaml asks for 1.36: 'up' does not change the version of a built cluster; run 'kubesmith upgrade -i inv.yaml'",
    });
  });
  it("lets the same minor through (another patch too), and a cluster not built yet", async () => {
    await expect(refuseVersionChange.run(ctx({ cp1: "v1.36.3", w1: "v1.36.3" }, "1.36.2"))).resolves.toBeUndefined();
    expect(refuseVersionChange.shouldRun!(ctx({}, "1.36"))).toBe("no host is set up yet");
  });
});
