// The add-ons phase with a hand-built renderer (setAddonEngine) against the API simulator: dependency
// levels in order, a dry run that only records, a real run, and a second run with nothing to do.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setAddonEngine, type AddonEngine } from "../../src/addons/releases.js";
import type { Bundle, RenderContext, RenderedCluster } from "../../src/addons/types.js";
import { KubeClient } from "../../src/kube/client.js";
import { addonsPhase } from "../../src/phases/addons.js";
import type { ClusterContext } from "../../src/phases/context.js";
import { runPhases } from "../../src/phases/run.js";
import { MemoryReporter } from "../../src/ui/events.js";
import { startSim, type Sim } from "../apisim/helpers.js";

const bundle = (name: string, namespace: string, dependsOn: string[] = [], enabledByDefault = true): Bundle => ({
  dir: `/nowhere/${name}`,
  manifest: { name, version: "1.0.0", description: name, target: "cluster", namespace, dependsOn, enabledByDefault },
  defaults: {},
  templates: {},
});

const BUNDLES = [bundle("app", "base", ["base"]), bundle("base", "base"), bundle("off", "off", [], false)];

const engine: AddonEngine = {
  loadCatalog: async () => new Map(BUNDLES.map((b) => [b.manifest.name, b])),
  resolveValues: (_b, o) => ({ replicas: 1, ...((o as Record<string, unknown> | undefined) ?? {}) }),
  renderCluster: (b, rc: RenderContext): RenderedCluster => ({
    bundle: b.manifest.name,
    release: rc.release,
    objects:
      b.manifest.name === "base"
        ? [{ apiVersion: "v1", kind: "Namespace", metadata: { name: "base" } }]
        : [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${b.manifest.name}-cm`, namespace: rc.release.namespace }, data: { cluster: rc.cluster.name } }],
  }),
  renderHosts: () => {
    throw new Error("no host bundles here");
  },
  // Naive topological levels.
  orderBundleLevels: (bs) => {
    const done = new Set<string>();
    const levels: Bundle[][] = [];
    let left = [...bs];
    while (left.length) {
      const ready = left.filter((b) => (b.manifest.dependsOn ?? []).every((d) => done.has(d) || !bs.some((x) => x.manifest.name === d)));
      if (!ready.length) throw new Error("cycle");
      levels.push(ready);
      for (const b of ready) done.add(b.manifest.name);
      left = left.filter((b) => !ready.includes(b));
    }
    return levels;
  },
};

const stateDir = mkdtempSync(join(tmpdir(), "addons-phase-"));

describe("addonsPhase", () => {
  let sim: Sim;
  let kube: KubeClient;
  beforeAll(async () => {
    sim = await startSim();
    kube = await KubeClient.fromKubeconfig(readFileSync(sim.kubeconfig, "utf8"));
    setAddonEngine(engine);
  });
  afterAll(async () => {
    setAddonEngine(undefined);
    kube?.close();
    await sim?.close();
  });

  const ctx = (dryRun: boolean): ClusterContext =>
    ({
      dryRun,
      reporter: new MemoryReporter(),
      concurrency: 4,
      phase: "",
      changes: [],
      kube,
      facts: new Map(),
      options: { inventory: "x", dryRun, concurrency: 4, stateDir, waitTimeoutMs: 5000 },
      stateDir,
      model: {
        name: "demo",
        loaded: { file: "inventory.yaml" },
        inventory: { cluster: { name: "demo", podCIDR: "10.244.0.0/16", serviceCIDR: "10.96.0.0/12" }, hosts: [], addons: {} },
        hosts: [],
      },
    }) as unknown as ClusterContext;

  it("dry run records, the real run applies dependencies first, the second run has nothing to do", async () => {
    const dry = ctx(true);
    await runPhases([addonsPhase()], dry);
    expect(dry.changes.map((c) => c.what)).toEqual(["base: create Namespace/base", "app: create ConfigMap/base/app-cm"]);
    expect(await kube.get("v1", "Namespace", "base")).toBeUndefined();

    const real = ctx(false);
    await runPhases([addonsPhase()], real);
    expect(real.changes.map((c) => c.what)).toEqual(["base: create Namespace/base", "app: create ConfigMap/base/app-cm"]);
    expect((await kube.get("v1", "ConfigMap", "app-cm", "base"))?.data).toEqual({ cluster: "demo" });
    expect(await kube.get("v1", "Namespace", "off")).toBeUndefined();

    const again = ctx(false);
    await runPhases([addonsPhase()], again);
    expect(again.changes).toEqual([]);
  });

  it("an unknown bundle name is a usage error before anything is applied", async () => {
    await expect(runPhases([addonsPhase({ only: ["nope"] })], ctx(false))).rejects.toThrow(/no add-on bundle named 'nope'/);
  });
});

describe("registerAddonsApplyCommands", () => {
  it("adds diff, apply and remove to the addons group; remove refuses without --yes and no terminal", async () => {
    const { Command } = await import("commander");
    const { registerAddonsApplyCommands } = await import("../../src/commands/addons-apply.js");
    const out: string[] = [];
    const program = new Command("kubesmith").exitOverride();
    const group = program.command("addons").exitOverride();
    registerAddonsApplyCommands(group, { stdout: (s) => void out.push(s), stderr: (s) => void out.push(s) });
    expect(group.commands.map((c) => c.name())).toEqual(["diff", "apply", "remove"]);
    for (const c of group.commands) c.exitOverride();
    const err = await program.parseAsync(["addons", "remove", "hello", "-i", "/nonexistent.yaml"], { from: "user" }).catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(/--yes|terminal|confirm/i);
  });
});
