// --limit (cluster/limit.ts): names and roles checked against the inventory, down's rule for control planes,
// when the cluster-wide changes are made, and how forHosts / remaining() leave the other hosts out.
import { describe, expect, it } from "vitest";
import { checkDownLimit, clusterWideSkipped, resolveLimit } from "../../src/cluster/limit.js";
import { UsageError } from "../../src/errors.js";
import { remaining } from "../../src/phases/partial.js";
import { forHosts, type PhaseContext } from "../../src/phases/run.js";
import { MemoryReporter } from "../../src/ui/events.js";

const hosts = [
  { name: "cp1", roles: ["control-plane"] },
  { name: "cp2", roles: ["control-plane"] },
  { name: "w1", roles: ["worker"] },
  { name: "w2", roles: ["worker"] },
  { name: "fe1", roles: ["frontend"] },
];

describe("resolveLimit", () => {
  it("takes names and roles, comma-separated, and returns them once each in inventory order", () => {
    expect(resolveLimit("w2,cp1", hosts, "inv.yaml")).toEqual(["cp1", "w2"]);
    expect(resolveLimit(" w1 , w1,", hosts, "inv.yaml")).toEqual(["w1"]);
    expect(resolveLimit("role:worker", hosts, "inv.yaml")).toEqual(["w1", "w2"]);
    expect(resolveLimit("role:control-plane,fe1", hosts, "inv.yaml")).toEqual(["cp1", "cp2", "fe1"]);
  });

  it("refuses an unknown name with the closest one, an unknown role, a role no host has and an empty list (exit 2)", () => {
    const err = (v: string, hs = hosts) => {
      try {
        resolveLimit(v, hs, "inv.yaml");
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as UsageError).oneLine();
      }
      throw new Error(`'${v}' was accepted`);
    };
    expect(err("w3x")).toBe("--limit: no host named 'w3x' in inv.yaml (hosts: cp1, cp2, w1, w2, fe1)");
    expect(err("fe2")).toBe("--limit: no host named 'fe2' in inv.yaml (did you mean fe1? hosts: cp1, cp2, w1, w2, fe1)");
    expect(err("role:workers")).toMatch(/^--limit: no role 'workers' \(did you mean role:worker\? roles: role:control-plane, role:worker, role:frontend\)$/);
    expect(err("role:frontend", hosts.slice(0, 4))).toBe("--limit: no host in inv.yaml has the role frontend");
    expect(err(" , ")).toMatch(/^--limit needs at least one host name/);
  });
});

describe("down --limit", () => {
  it("resets workers and frontends, refuses a control plane unless every host is named", () => {
    expect(() => checkDownLimit(["w1", "fe1"], hosts)).not.toThrow();
    expect(() => checkDownLimit(hosts.map((h) => h.name), hosts)).not.toThrow();
    expect(() => checkDownLimit(["cp2", "w1"], hosts)).toThrow(/^down --limit resets workers and frontends only; cp2 is a control plane$/);
  });
});

describe("the limit in a run", () => {
  const ctx = (limit?: string[]): PhaseContext & { reporter: MemoryReporter } => ({
    dryRun: false,
    reporter: new MemoryReporter(),
    concurrency: 4,
    phase: "prepare hosts",
    changes: [],
    ...(limit ? { limit: new Set(limit) } : {}),
  });

  it("forHosts works on the limited hosts only, and on every host when it only reads", async () => {
    const c = ctx(["w2"]);
    const seen: string[] = [];
    await forHosts(c, hosts, async (h) => void seen.push(h.name));
    expect(seen).toEqual(["w2"]);
    // the others do not show at all (they are not part of this run), unlike an unreachable control plane
    expect(c.reporter.of("host-step").map((e) => e.host)).toEqual(["w2", "w2"]);
    const read: string[] = [];
    await forHosts(c, hosts, async (h) => void read.push(h.name), { reads: true });
    expect(read.sort()).toEqual(hosts.map((h) => h.name).sort());
    expect(remaining(c, hosts).map((h) => h.name)).toEqual(["w2"]);
    expect(remaining(ctx(), hosts).map((h) => h.name)).toEqual(hosts.map((h) => h.name));
  });

  it("cluster-wide changes only when the limit includes the leader", () => {
    const model = { first: { name: "cp1" } };
    expect(clusterWideSkipped({ model })).toBeUndefined();
    expect(clusterWideSkipped({ model, limit: new Set(["cp1", "w1"]) })).toBeUndefined();
    expect(clusterWideSkipped({ model, limit: new Set(["w1"]) })).toMatch(/^--limit leaves out cp1, which makes the cluster-wide changes/);
  });
});

describe("a limited plan's last line", () => {
  it("speaks of the limited hosts only, not of the whole cluster", async () => {
    const { summary } = await import("../../src/commands/cluster-run.js");
    let out = "";
    const io = { stdout: (s: string) => void (out += s), stderr: () => {} };
    const ctx = { dryRun: true, changes: [], limit: new Set(["w1", "w2"]) } as unknown as Parameters<typeof summary>[0];
    await summary(ctx, io);
    expect(out).toBe("\nNothing to do on w1, w2 (--limit).\n");
    out = "";
    await summary({ dryRun: true, changes: [] } as unknown as Parameters<typeof summary>[0], io);
    expect(out).toBe("\nNothing to do: the cluster matches the inventory.\n");
  });
});

describe("a limited run's first line", () => {
  it("names the limit in the plain output", async () => {
    const { PlainReporter } = await import("../../src/ui/reporters.js");
    let out = "";
    const r = new PlainReporter((s) => void (out += s));
    r.emit({ kind: "run-start", command: "up", cluster: "lab", dryRun: true, runDir: "/r", limit: ["w1", "w2"] });
    expect(out).toBe("plan lab --limit w1,w2 (dry run: nothing is changed)\n");
  });
});
