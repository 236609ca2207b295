// Issue 14, upgrade: an HA cluster (3 control planes, 2 workers, 1 frontend; lab "e2eupg") built at 1.35 with
// its add-ons. `up` and `plan` refuse the version change (exit 15, pointing to `kubesmith upgrade`); the
// upgrade to 1.36 is shown as a plan first; refused outright when it downgrades, skips a minor or leaves an
// add-on's declared range; a run interrupted (SIGINT) after the first control plane exits 130, and the next
// one, which fails on a worker (a lab fault on that worker's
// `kubeadm upgrade node`) leaves the control planes upgraded and the next run continues from live state
// (no second `upgrade apply`) to every node Ready at 1.36 with `addons diff` empty; a second upgrade and an
// `up` with the new inventory change nothing.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient, nodeReady, type KubeObject } from "../../src/kube/client.js";
import { setLabFaults } from "../../src/lab/lab.js";
import { packageRoot } from "../../src/util/pkg.js";
import { K8S_MINORS } from "../../src/lab/sim/repos.js";
import { actWhen, changesOf, jsonEvents, kubesmith as runCli, spawnCli, type JsonEvent, type RunResult as Run } from "../helpers/cli.js";
import { labSkip, ssh, startLab, type StartedLab } from "../helpers/lab.js";

const V35 = `v1.35.${K8S_MINORS["1.35"]}`;
const V36 = `v1.36.${K8S_MINORS["1.36"]}`;

describe.skipIf(labSkip)("kubesmith upgrade 1.35 → 1.36 on an HA lab with add-ons (3cp,2w,1fe)", () => {
  let lab: StartedLab;
  let work = "";
  let inv35 = "";
  let inv36 = "";
  const kubesmith = (args: string[]): Promise<Run> => runCli(args, { cwd: work, env: { CI: "true" } });
  const common = () => ["--state-dir", join(work, "state"), "-o", "json"];
  const nodes = async () => {
    const kube = await KubeClient.fromKubeconfig(readFileSync(join(work, "state", lab.state.name, "kubeconfig"), "utf8"));
    try {
      return { list: await kube.list("v1", "Node"), version: (await kube.request<{ gitVersion: string }>("GET", "/version"))! };
    } finally {
      kube.close();
    }
  };
  const kubelet = (n: KubeObject) => (n.status as { nodeInfo: { kubeletVersion: string } }).nodeInfo.kubeletVersion;

  beforeAll(async () => {
    lab = await startLab({ name: "e2eupg", layout: "3cp,2w,1fe" });
    work = mkdtempSync(join(tmpdir(), "kubesmith-upgrade-"));
    const text = readFileSync(lab.inventoryPath, "utf8");
    expect(text).toContain('kubernetesVersion: "1.36"');
    inv35 = join(work, "inv35.yaml");
    inv36 = join(work, "inv36.yaml");
    writeFileSync(inv35, text.replace('kubernetesVersion: "1.36"', 'kubernetesVersion: "1.35"'));
    writeFileSync(inv36, text);
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
  });

  it("builds at 1.35 with add-ons; up and plan with 1.36 refuse the version change (exit 15), naming kubesmith upgrade", async () => {
    const r = await kubesmith(["up", "-i", inv35, ...common()]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const { list } = await nodes();
    expect(list.map((n) => kubelet(n)).sort()).toEqual(Array(6).fill(V35));

    for (const cmd of ["up", "plan"]) {
      const refused = await kubesmith([cmd, "-i", inv36, ...common()]);
      expect(refused.code, refused.stderr).toBe(15);
      expect(refused.stderr.trim().split("\n")).toEqual([
        expect.stringMatching(new RegExp(`^kubesmith: the cluster runs Kubernetes 1\\.35 \\(kubelet ${V35} on lab-1 and 5 more\\) but .*inv36\\.yaml asks for 1\\.36: 'up' does not change the version of a built cluster; run 'kubesmith upgrade -i .*inv36\\.yaml'$`)),
      ]);
      expect(changesOf(refused)).toEqual([]);
    }
  }, 900_000);

  it("upgrade refuses a downgrade and a skipped minor before touching anything (exit 15)", async () => {
    const down = await kubesmith(["upgrade", "-i", inv36, "--to", "1.34", "--dry-run", ...common()]);
    expect(down.code, down.stderr).toBe(15);
    expect(down.stderr.trim()).toBe("kubesmith: --to Kubernetes 1.34 is older than the cluster's 1.35: kubesmith does not downgrade (kubeadm does not either); restore from a backup or rebuild");
    const skip = await kubesmith(["upgrade", "-i", inv36, "--to", "1.37", "--dry-run", ...common()]);
    expect(skip.code, skip.stderr).toBe(15);
    expect(skip.stderr.trim()).toBe("kubesmith: --to Kubernetes 1.37 skips a minor: the cluster runs 1.35, and kubeadm upgrades one minor at a time; run 'kubesmith upgrade --to 1.36' first");
    // an enabled bundle (here the user's copy of hello) whose declared range leaves out the target
    const dir = join(work, "my-addons");
    cpSync(join(packageRoot(), "addons", "hello"), join(dir, "hello"), { recursive: true });
    const manifest = join(dir, "hello", "addon.yaml");
    writeFileSync(manifest, readFileSync(manifest, "utf8").replace(/^kubernetes: .*$/m, 'kubernetes: ">=1.33 <=1.35"'));
    const withHello = join(work, "inv36-hello.yaml");
    writeFileSync(withHello, readFileSync(inv36, "utf8").replace(/^addons:\n/m, "addons:\n  hello:\n    enabled: true\n"));
    const range = await kubesmith(["upgrade", "-i", withHello, "--addons-dir", dir, "--dry-run", ...common()]);
    expect(range.code, range.stderr).toBe(15);
    expect(range.stderr.trim()).toBe('kubesmith: Kubernetes 1.36 is outside the range of hello (declares kubernetes ">=1.33 <=1.35"): upgrade or disable it first, or choose another --to');
    expect(changesOf(down).concat(changesOf(skip), changesOf(range))).toEqual([]);
  }, 300_000);

  it("upgrade --dry-run shows the plan in kubeadm's order and changes nothing", async () => {
    const r = await kubesmith(["upgrade", "-i", inv36, "--dry-run", ...common()]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const changes = changesOf(r).map((e) => `${e.host}: ${e.what}`);
    const at = (re: RegExp) => changes.findIndex((c) => re.test(c));
    const apply = at(/^lab-1: kubeadm upgrade plan, then kubeadm upgrade apply/);
    expect(apply, changes.join("\n")).toBeGreaterThan(at(/^lab-1: add the Kubernetes v1\.36 package repository/));
    expect(changes.filter((c) => /kubeadm upgrade apply/.test(c))).toHaveLength(1);
    expect(at(/^lab-2: kubeadm upgrade node$/)).toBeGreaterThan(at(/^lab-1: uncordon node lab-1$/));
    expect(at(/^lab-3: kubeadm upgrade node$/)).toBeGreaterThan(at(/^lab-2: uncordon node lab-2$/));
    expect(at(/^lab-4: cordon and drain node lab-4/)).toBeGreaterThan(at(/^lab-3: uncordon node lab-3$/));
    expect(at(/^lab-5: cordon and drain node lab-5/)).toBeGreaterThan(at(/^lab-4: uncordon node lab-4$/));
    expect(at(/^lab-6: uncordon node lab-6$/)).toBe(changes.length - 1);
    const { list, version } = await nodes();
    expect(version.gitVersion).toBe(V35);
    expect(list.map((n) => kubelet(n))).toEqual(Array(6).fill(V35));
  }, 600_000);

  it("SIGINT after the first control plane: exit 130 naming the phase and host, lab-1 upgraded, lock released", async () => {
    setLabFaults(lab.state.name, [{ host: "lab-2", command: "kubeadm upgrade node", delayMs: 8000 }]);
    const { code, stdout, stderr, sent } = await actWhen(
      spawnCli(["upgrade", "-i", inv36, "--yes", "--interrupt-grace", "1s", ...common()], work),
      (events) => (events as (JsonEvent & { dryRun?: boolean })[]).some((e) => e.kind === "change" && e.dryRun === false && e.host === "lab-2" && e.what === "kubeadm upgrade node"),
      { afterMs: 1500 },
    );
    setLabFaults(lab.state.name, []);
    expect(sent, stderr + stdout.slice(-2000)).toBe(true);
    expect(code, stderr).toBe(130);
    expect(stderr).toBe("kubesmith: interrupted during upgrade the control planes one at a time (kubeadm upgrade apply on the first, upgrade node on the others) on lab-2; run 'kubesmith upgrade' again to continue\n");
    const { list, version } = await nodes();
    expect(version.gitVersion).toBe(V36);
    expect(Object.fromEntries(list.map((n) => [n.metadata.name, kubelet(n)]))).toMatchObject({ "lab-1": V36, "lab-2": V35, "lab-4": V35 });
    expect((await ssh(lab.state, "lab-1", "test -e /var/lib/kubesmith/lock && echo held || echo free")).stdout.trim()).toBe("free");
  }, 600_000);

  it("a run failing on a worker leaves the control planes upgraded; the next run continues to the end", async () => {
    setLabFaults(lab.state.name, [{ host: "lab-5", command: "kubeadm upgrade node", fail: "simulated failure of kubeadm upgrade node", exitCode: 1, times: 1 }]);
    const failed = await kubesmith(["upgrade", "-i", inv36, "--yes", ...common()]);
    setLabFaults(lab.state.name, []);
    expect(failed.code, failed.stderr + failed.stdout.slice(-3000)).toBe(7);
    expect(failed.stderr).toMatch(/^kubesmith: lab-5: /m);
    const mid = await nodes();
    expect(mid.version.gitVersion).toBe(V36);
    const midVersions = Object.fromEntries(mid.list.map((n) => [n.metadata.name, kubelet(n)]));
    expect(midVersions).toEqual({ "lab-1": V36, "lab-2": V36, "lab-3": V36, "lab-4": V36, "lab-5": V35, "lab-6": V35 });
    // up refuses a half-upgraded cluster too: the upgrade must finish
    const up = await kubesmith(["up", "-i", inv36, ...common()]);
    expect(up.code, up.stderr).toBe(15);

    const again = await kubesmith(["upgrade", "-i", inv36, "--yes", ...common()]);
    expect(again.code, again.stderr + again.stdout.slice(-3000)).toBe(0);
    const changes = changesOf(again).map((e) => `${e.host}: ${e.what}`);
    // both runs (plan, then the real one) change only what was left: lab-5 and lab-6
    expect(changes.filter((c) => !/^lab-[56]: /.test(c)), changes.join("\n")).toEqual([]);
    expect(changes.some((c) => /kubeadm upgrade apply/.test(c))).toBe(false);
    // the journal has each node's version before and after
    const versions = jsonEvents(again.stdout).filter((e) => e.kind === "node-version" && !(e as { dryRun?: boolean }).dryRun) as unknown as { host: string; before: string; after: string }[];
    expect(versions.find((v) => v.host === "lab-5")).toMatchObject({ before: V35, after: V36 });
    expect(versions.find((v) => v.host === "lab-1")).toMatchObject({ after: V36 });

    const end = await nodes();
    expect(end.version.gitVersion).toBe(V36);
    for (const n of end.list) {
      expect([n.metadata.name, kubelet(n), nodeReady(n), (n.spec as { unschedulable?: boolean }).unschedulable ?? false]).toEqual([n.metadata.name, V36, true, false]);
    }
    const diff = await kubesmith(["addons", "diff", "-i", inv36, "--state-dir", join(work, "state")]);
    expect(diff.code, diff.stderr + diff.stdout).toBe(0);
    expect(diff.stdout).toMatch(/no changes/);
  }, 1_200_000);

  it("a second upgrade changes nothing, and up with the new inventory changes nothing", async () => {
    const r = await kubesmith(["upgrade", "-i", inv36, "--yes", ...common()]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    expect(changesOf(r).map((e) => `${e.host}: ${e.what}`)).toEqual([]);
    const up = await kubesmith(["up", "-i", inv36, ...common()]);
    expect(up.code, up.stderr + up.stdout.slice(-3000)).toBe(0);
    expect(changesOf(up).map((e) => `${e.host}: ${e.what}`)).toEqual([]);
  }, 600_000);
});
