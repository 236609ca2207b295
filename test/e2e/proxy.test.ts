// offline.imageRepository and proxy end to end on a lab of 1 control plane and 1 worker: `up` with both
// (the lab declares the mirror, so only real releases pull from it), every node Ready and every workload's
// image from the mirror; the proxy files on the hosts with the computed NO_PROXY; the proxy password in
// no output, event or log; a second `up` changes nothing; taking the proxy out removes its files.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findImages } from "../../src/addons/images.js";
import { KubeClient, nodeReady } from "../../src/kube/client.js";
import { REGISTRY_MIRRORS_FILE } from "../../src/lab/sim/apiserver.js";
import { changesOf, kubesmith as runCli, type RunResult } from "../helpers/cli.js";
import { labSkip, ssh, startLab, type StartedLab } from "../helpers/lab.js";

const MIRROR = "registry.lab.example:5000/mirror";
const PASSWORD = "Pr0xy-Pa55word";
const PROXY_URL = `http://alice:${PASSWORD}@198.18.0.1:3128`;

let work = "";
const kubesmith = (args: string[]): Promise<RunResult> => runCli(args, { cwd: work, env: { CI: "true", PX_PROXY_URL: PROXY_URL } });

/** Every file under a directory, as text. */
function allText(dir: string): string {
  let out = "";
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out += readFileSync(join(e.parentPath, e.name), "utf8");
  }
  return out;
}

describe.skipIf(labSkip)("offline.imageRepository and proxy on a lab of 1 control plane, 1 worker", () => {
  let lab: StartedLab;
  let withBoth = "";
  let withoutProxy = "";
  const args = (inv: string) => ["-i", inv, "--state-dir", join(work, "state"), "-o", "json"];

  beforeAll(async () => {
    lab = await startLab({ name: "e2eproxy", layout: "1cp,1w" });
    work = mkdtempSync(join(tmpdir(), "ks-px-e2e-"));
    // The lab's mirror: copies of these registries' real releases, at the same path and tag.
    writeFileSync(join(lab.state.dir, REGISTRY_MIRRORS_FILE), JSON.stringify({ [MIRROR]: ["registry.k8s.io", "docker.io", "quay.io", "docker.elastic.co", "ghcr.io"] }));
    const base = readFileSync(lab.inventoryPath, "utf8");
    withoutProxy = join(work, "mirror.yaml");
    writeFileSync(withoutProxy, `${base}offline:\n  imageRepository: ${MIRROR}\n`);
    withBoth = join(work, "both.yaml");
    writeFileSync(withBoth, `${base}offline:\n  imageRepository: ${MIRROR}\nproxy:\n  http: \${PX_PROXY_URL}\n  noProxy: [.corp.example]\n`);
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
  });

  it("plan shows the proxy steps with the credentials masked", async () => {
    const r = await kubesmith(["plan", ...args(withBoth)]);
    expect(r.code, r.stderr).toBe(0);
    const proxySteps = changesOf(r).filter((c) => /kubesmith-proxy|proxy=/.test(c.what ?? ""));
    // apt, containerd, kubelet on each of the 2 hosts
    const lines = proxySteps.map((c) => `${c.host}: ${c.what}`);
    expect(lines.length, lines.join("\n")).toBe(6);
    for (const c of proxySteps) expect(c.what).toMatch(/http:\/\/\*\*\*@198\.18\.0\.1:3128/);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  }, 120_000);

  it("up: nodes Ready, every image from the mirror, proxy files in place, the password nowhere", async () => {
    const r = await kubesmith(["up", ...args(withBoth)]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const kube = await KubeClient.fromKubeconfig(readFileSync(join(work, "state", lab.state.name, "kubeconfig"), "utf8"));
    try {
      const nodes = await kube.list("v1", "Node");
      expect(nodes).toHaveLength(2);
      for (const n of nodes) expect(nodeReady(n), n.metadata.name).toBe(true);
      const workloads = [...(await kube.list("apps/v1", "DaemonSet")), ...(await kube.list("apps/v1", "Deployment"))];
      expect(workloads.length).toBeGreaterThanOrEqual(4);
      for (const w of workloads) {
        for (const { image } of findImages(w.spec)) expect(String(image).startsWith(`${MIRROR}/`), `${w.metadata.name}: ${String(image)}`).toBe(true);
        const pulled = ((w.status as { conditions?: { type: string; reason?: string }[] } | undefined)?.conditions ?? []).filter((c) => c.reason === "ImagePullBackOff");
        expect(pulled, w.metadata.name).toEqual([]);
      }
    } finally {
      kube.close();
    }
    for (const h of lab.state.hosts) {
      const files = await ssh(lab.state, h.name, "stat -c '%a %n' /etc/apt/apt.conf.d/90kubesmith-proxy /etc/systemd/system/containerd.service.d/kubesmith-proxy.conf /etc/systemd/system/kubelet.service.d/kubesmith-proxy.conf");
      expect(files.stdout.trim().split("\n").map((l) => l.split(" ")[0]), h.name).toEqual(["600", "600", "600"]);
      const dropIn = await ssh(lab.state, h.name, "cat /etc/systemd/system/containerd.service.d/kubesmith-proxy.conf");
      const noProxy = /NO_PROXY=([^"]*)"/.exec(dropIn.stdout)?.[1]?.split(",") ?? [];
      expect(noProxy).toEqual(expect.arrayContaining([".corp.example", "localhost", "127.0.0.1", "10.244.0.0/16", "10.96.0.0/12", ".svc", ".svc.cluster.local", ...lab.state.hosts.flatMap((x) => [x.name, x.address])]));
      expect(dropIn.stdout).toContain(`HTTP_PROXY=http://alice:${PASSWORD}@198.18.0.1:3128`);
      const cfg = await ssh(lab.state, h.name, "grep sandbox /etc/containerd/config.toml");
      expect(cfg.stdout).toContain(`${MIRROR}/pause:`);
    }
    // the credentials: not in the output, the events, the plan lines or the run's logs
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    expect(changesOf(r).some((c) => /http:\/\/\*\*\*@198\.18\.0\.1:3128/.test(c.what ?? ""))).toBe(true);
    expect(allText(join(work, "state", lab.state.name, "runs"))).not.toContain(PASSWORD);
  }, 400_000);

  it("a second up changes nothing", async () => {
    const r = await kubesmith(["up", ...args(withBoth)]);
    expect(r.code, r.stderr).toBe(0);
    expect(changesOf(r).map((e) => `${e.host}: ${e.what}`)).toEqual([]);
  }, 200_000);

  it("without proxy in the inventory, up removes its files (and only that), then converges", async () => {
    const r = await kubesmith(["up", ...args(withoutProxy)]);
    expect(r.code, r.stderr).toBe(0);
    const whats = changesOf(r).map((e) => e.what ?? "");
    expect(whats.length).toBe(6);
    for (const w of whats) expect(w).toMatch(/^remove .*kubesmith-proxy/);
    for (const h of lab.state.hosts) {
      const left = await ssh(lab.state, h.name, "ls /etc/apt/apt.conf.d/90kubesmith-proxy /etc/systemd/system/containerd.service.d/kubesmith-proxy.conf /etc/systemd/system/kubelet.service.d/kubesmith-proxy.conf 2>/dev/null; true");
      expect(left.stdout.trim(), h.name).toBe("");
    }
    const again = await kubesmith(["up", ...args(withoutProxy)]);
    expect(again.code, again.stderr).toBe(0);
    expect(changesOf(again)).toEqual([]);
  }, 300_000);
});
