// Partial failure (phases/partial.ts): failed workers are left out up to the bound, control planes never,
// and forHosts skips the hosts left out in later phases.
import { describe, expect, it } from "vitest";
import { AuthError, CommandError, ExitCode, HostKeyError, MultiHostError, PartialRunError, UnreachableError, UsageError } from "../../src/errors.js";
import { boundCount, PartialFailures, parseFailureBound, leftOut, remaining } from "../../src/phases/partial.js";
import { forHosts, type PhaseContext } from "../../src/phases/run.js";
import { MemoryReporter } from "../../src/ui/events.js";
import { buildModel } from "../../src/cluster/model.js";
import { PreflightError } from "../../src/errors.js";
import type { HostFacts } from "../../src/facts/gather.js";
import { parseInventory } from "../../src/inventory/index.js";
import type { ClusterContext } from "../../src/phases/context.js";
import { preflight } from "../../src/phases/hosts.js";
import { targetsFromInventory } from "../../src/ssh/targets.js";

const hosts = [{ name: "cp1" }, { name: "w1" }, { name: "w2" }, { name: "w3" }];
const workers = ["w1", "w2", "w3"];

function ctx(bound: string | undefined): PhaseContext & { reporter: MemoryReporter } {
  return {
    dryRun: false,
    reporter: new MemoryReporter(),
    concurrency: 4,
    phase: "join the workers",
    changes: [],
    ...(bound !== undefined ? { partial: new PartialFailures(workers, parseFailureBound(bound)) } : {}),
  };
}

describe("partial failure: the bound", () => {
  it("parses a count or a share and refuses anything else with a one-line usage error", () => {
    expect(parseFailureBound("0")).toEqual({ count: 0 });
    expect(parseFailureBound(3)).toEqual({ count: 3 });
    expect(parseFailureBound("10%")).toEqual({ percent: 10 });
    expect(parseFailureBound("2.5%")).toEqual({ percent: 2.5 });
    for (const bad of ["-1", "x", "101%", "%", "1.5", "10 %x"]) {
      expect(() => parseFailureBound(bad), bad).toThrow(UsageError);
    }
    expect(() => parseFailureBound("abc")).toThrow(/--max-failed-workers must be a number of workers like 2 or a share like 10% \(got 'abc'\)/);
  });

  it("a share is of the workers, rounded down", () => {
    expect(boundCount({ percent: 10 }, 200)).toBe(20);
    expect(boundCount({ percent: 30 }, 10)).toBe(3);
    expect(boundCount({ percent: 30 }, 2)).toBe(0);
    expect(boundCount({ percent: 50 }, 3)).toBe(1);
    expect(boundCount({ count: 4 }, 3)).toBe(4);
  });
});

describe("partial failure: forHosts", () => {
  const joinFailsOn = (bad: string[]) => async (h: { name: string }) => {
    if (bad.includes(h.name)) throw new CommandError(h.name, "kubeadm join", 1, "preflight: port 10250 in use", "kubeadm join (worker)");
  };

  it("without a bound every failure stops the phase, as before", async () => {
    const c = ctx(undefined);
    await expect(forHosts(c, hosts, joinFailsOn(["w2"]))).rejects.toThrow(/^w2: kubeadm join \(worker\) failed/);
  });

  it("leftOut names both the dropped workers and the control planes the run goes on without", async () => {
    const c = ctx("1");
    await forHosts(c, hosts, joinFailsOn(["w2"]));
    c.unreachable = new Map([["cp1", new UnreachableError("cp1", "connection refused")]]);
    expect([...leftOut(c, hosts)].sort()).toEqual(["cp1", "w2"]);
    expect(remaining(c, hosts).map((h) => h.name)).toEqual(["w1", "w3"]);
  });

  it("a bound of 0 keeps today's behaviour", async () => {
    const c = ctx("0");
    await expect(forHosts(c, hosts, joinFailsOn(["w2"]))).rejects.toBeInstanceOf(CommandError);
    expect(c.partial!.dropped.size).toBe(0);
  });

  it("a failed worker within the bound is left out: the phase succeeds, later phases skip it, the end names it", async () => {
    const c = ctx("1");
    await forHosts(c, hosts, joinFailsOn(["w2"]));
    expect([...c.partial!.dropped.keys()]).toEqual(["w2"]);
    expect(c.reporter.of("warning").map((w) => w.message)).toEqual([
      "left out of the rest of this run (1 of at most 1 worker(s)): w2: kubeadm join (worker) failed with exit code 1: preflight: port 10250 in use",
    ]);
    const seen: string[] = [];
    await forHosts(c, hosts, async (h) => void seen.push(h.name));
    expect(seen.sort()).toEqual(["cp1", "w1", "w3"]);
    expect(remaining(c, hosts).map((h) => h.name)).toEqual(["cp1", "w1", "w3"]);
    const end = c.partial!.error("up")!;
    expect(end).toBeInstanceOf(PartialRunError);
    expect(end.exitCode).toBe(ExitCode.Command);
    expect(end.oneLine().split("\n")).toEqual([
      "up finished without 1 of 3 worker(s) (at most 1 may fail); run 'kubesmith up' again to finish them",
      "w2: kubeadm join (worker) failed with exit code 1: preflight: port 10250 in use",
    ]);
  });

  it("a control-plane failure stays fatal, also when workers fail with it and the bound would allow them", async () => {
    const c = ctx("100%");
    const err = await forHosts(c, hosts, async (h) => {
      if (h.name === "cp1") throw new UnreachableError("cp1", "connection refused");
      if (h.name === "w1") throw new AuthError("w1", "authentication failed");
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MultiHostError);
    expect((err as MultiHostError).oneLine()).toBe("w1: authentication failed\ncp1: connection refused");
    expect(c.partial!.dropped.size).toBe(0);
  });

  it("past the bound the run stops, naming the hosts left out earlier too, with the exit code by priority", async () => {
    const c = ctx("34%"); // 1 of 3
    await forHosts(c, hosts, async (h) => {
      if (h.name === "w1") throw new HostKeyError("w1", "host key changed");
    });
    expect([...c.partial!.dropped.keys()]).toEqual(["w1"]);
    const err = await forHosts(c, hosts, joinFailsOn(["w3"])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MultiHostError);
    expect((err as MultiHostError).exitCode).toBe(ExitCode.HostKey);
    expect((err as MultiHostError).oneLine().split("\n")).toEqual([
      "w1: host key changed",
      "w3: kubeadm join (worker) failed with exit code 1: preflight: port 10250 in use",
    ]);
  });

  it("a bug (not a KubesmithError) is never swallowed", async () => {
    const c = ctx("3");
    await expect(
      forHosts(c, hosts, async (h) => {
        if (h.name === "w1") throw new TypeError("boom");
      }),
    ).rejects.toBeInstanceOf(TypeError);
  });
});

describe("partial failure: the preflight phase", () => {
  const facts = (name: string, over: Partial<HostFacts> = {}): HostFacts => ({
    hostname: name, osId: "debian", osVersion: "12", osPretty: "Debian GNU/Linux 12", arch: "x86_64", kernel: "6.1.0",
    cpus: 2, memoryMiB: 2048, swapMiB: 0, swapActive: 0, productUuid: `u-${name}`, macs: [`02:00:00:00:00:${{ cp1: "01", w1: "02", w22: "03" }[name] ?? "ff"}`],
    kubeadmState: "none", kubeletVersion: "", kubeadmVersion: "", containerRuntime: "", packageManager: "apt", tools: {},
    epoch: 1000, portsInUse: [], cgroup: "v2", containerdVersion: "", firewalld: "inactive", selinux: "disabled", networkManager: false,
    ...over,
  });
  function clusterCtx(bound: string | undefined, bad: Record<string, Partial<HostFacts>>): ClusterContext {
    const loaded = parseInventory(
      [
        "cluster: { name: t, kubernetesVersion: \"1.36\" }",
        "hosts:",
        "  - { name: cp1, address: 192.168.1.10, roles: [control-plane] }",
        "  - { name: w1, address: 192.168.1.20, roles: [worker] }",
        "  - { name: w22, address: 192.168.1.21, roles: [worker] }",
        "",
      ].join("\n"),
      "inv.yaml",
      {},
    );
    const model = buildModel(loaded, targetsFromInventory(loaded.inventory, { baseDir: "/" }));
    const base = ctx(bound);
    return {
      ...base,
      ...(bound !== undefined ? { partial: new PartialFailures(model.workers.map((h) => h.name), parseFailureBound(bound)) } : {}),
      model,
      facts: new Map(model.hosts.map((h) => [h.name, facts(h.name, bad[h.name])])),
    } as unknown as ClusterContext;
  }

  it("a worker failing preflight is left out within the bound; without one the phase fails as before", async () => {
    const low = { w1: { portsInUse: [10250] } };
    await expect(preflight.run(clusterCtx(undefined, low))).rejects.toThrow(/^w1: /);
    const c = clusterCtx("1", low);
    await preflight.run(c);
    expect([...c.partial!.dropped.keys()]).toEqual(["w1"]);
    expect(c.partial!.dropped.get("w1")).toBeInstanceOf(PreflightError);
    expect(c.partial!.dropped.get("w1")!.oneLine()).not.toMatch(/mac|w22|cp1/i);
  });

  it("a control plane failing preflight stays fatal", async () => {
    await expect(preflight.run(clusterCtx("2", { cp1: { cpus: 1 } }))).rejects.toThrow(/^cp1: /);
  });
});
