import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AuthError, CommandError, InterruptedError, MultiHostError } from "../../src/errors.js";
import { runSteps } from "../../src/phases/steps.js";
import { change, forHosts, gateOf, runPhases, type Phase, type PhaseContext } from "../../src/phases/run.js";
import { MemoryReporter } from "../../src/ui/events.js";

function ctx(dryRun = false): PhaseContext & { reporter: MemoryReporter; done: string[] } {
  return { dryRun, reporter: new MemoryReporter(), concurrency: 4, phase: "", changes: [], done: [] };
}
type C = ReturnType<typeof ctx>;

const hosts = [{ name: "a" }, { name: "b" }, { name: "c" }];

describe("phase runner", () => {
  it("runs phases in order, skips with a reason, and the gate records every change", async () => {
    const c = ctx();
    const phases: Phase<C>[] = [
      { title: "one", run: async (x) => change(x, "a", "write file", async () => void x.done.push("one:a")) },
      { title: "two", shouldRun: () => "already done", run: async (x) => void x.done.push("two") },
      {
        title: "three",
        run: async (x) => forHosts(x, hosts, async (h) => change(x, h.name, "install", async () => void x.done.push(`three:${h.name}`))),
      },
    ];
    const r = await runPhases(phases, c);
    expect(r.ran).toEqual(["one", "three"]);
    expect(r.skipped).toEqual(["two"]);
    expect(c.done.sort()).toEqual(["one:a", "three:a", "three:b", "three:c"]);
    expect(c.changes.map((x) => `${x.phase}/${x.host}/${x.what}`).sort()).toEqual([
      "one/a/write file",
      "three/a/install",
      "three/b/install",
      "three/c/install",
    ]);
    expect(c.reporter.of("phase-skip")).toMatchObject([{ phase: "two", reason: "already done" }]);
    expect(c.reporter.of("run-end")[0]).toMatchObject({ ok: true, changes: 4 });
  });

  it("dry-run records the same changes and does none of them", async () => {
    const c = ctx(true);
    await runPhases([{ title: "p", run: async (x) => forHosts(x, hosts, (h) => change(x, h.name, "reset", async () => void x.done.push(h.name))) }], c);
    expect(c.done).toEqual([]);
    expect(c.changes).toHaveLength(3);
    expect(c.reporter.of("change").every((e) => e.dryRun)).toBe(true);
  });

  it("gateOf: changes recorded under its host; follow-ups run only in a real run", async () => {
    for (const dryRun of [false, true]) {
      const c = ctx(dryRun);
      c.phase = "addons";
      const g = gateOf(c, "cluster");
      await g.change("create ConfigMap/x", async () => void c.done.push("create"));
      const waited = await g.followUp(async () => (c.done.push("wait"), 42));
      expect(c.changes).toEqual([{ phase: "addons", host: "cluster", what: "create ConfigMap/x" }]);
      expect(c.reporter.of("change")).toMatchObject([{ host: "cluster", what: "create ConfigMap/x", dryRun }]);
      expect(c.done).toEqual(dryRun ? [] : ["create", "wait"]);
      expect(waited).toBe(dryRun ? undefined : 42);
    }
  });

  it("forHosts lets every host finish and reports all failures, each naming its host", async () => {
    const c = ctx();
    const err = await forHosts(c, hosts, async (h) => {
      if (h.name === "b") throw new CommandError("b", "kubeadm join", 1, "boom");
      if (h.name === "c") throw new AuthError("c", "denied");
      c.done.push(h.name);
    }).catch((e) => e);
    expect(err).toBeInstanceOf(MultiHostError);
    // the credentials problem comes first (a user must fix it first), and sets the exit code
    expect((err as MultiHostError).oneLine()).toMatch(/^c: denied\nb: .*boom$/);
    expect((err as MultiHostError).exitCode).toBe(new AuthError("c", "x").exitCode);
    expect(c.done).toEqual(["a"]);
    const failed = c.reporter.of("host-step").filter((e) => e.status === "failed").map((e) => e.host).sort();
    expect(failed).toEqual(["b", "c"]);
  });

  it("the exit code and the order of the lines do not depend on which host failed first", async () => {
    const results: string[] = [];
    for (const delays of [{ a: 1, b: 30, c: 60 }, { a: 60, b: 30, c: 1 }, { a: 30, b: 1, c: 60 }]) {
      const err = (await forHosts(ctx(), hosts, async (h) => {
        await new Promise((r) => setTimeout(r, delays[h.name as "a" | "b" | "c"]));
        if (h.name === "a") throw new CommandError("a", "kubeadm join", 1, "boom");
        throw new CommandError(h.name, "apt-get install", 100, "locked");
      }).catch((e: unknown) => e)) as MultiHostError;
      results.push(`${err.exitCode} ${err.oneLine()}`);
    }
    expect(new Set(results).size).toBe(1);
    // b and c failed the same way: one line naming both (MultiHostError groups identical messages)
    expect(results[0]).toMatch(/^7 a: .*boom\nb, c: .*locked$/);
  });

  it("forHosts respects the concurrency bound", async () => {
    const c = ctx();
    let running = 0;
    let peak = 0;
    const many = Array.from({ length: 12 }, (_, i) => ({ name: `h${i}` }));
    await forHosts(c, many, async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
    }, { concurrency: 3 });
    expect(peak).toBe(3);
  });

  it("a failure cleans up the phases that ran, in reverse, and rethrows", async () => {
    const c = ctx();
    const phases: Phase<C>[] = [
      { title: "a", run: async () => {}, cleanUp: async (x) => void x.done.push("clean a") },
      { title: "b", run: async () => {}, cleanUp: async () => { throw new Error("cleanup broke"); } },
      { title: "c", run: async () => { throw new CommandError("h1", "x", 2, ""); }, cleanUp: async (x) => void x.done.push("clean c") },
      { title: "d", run: async (x) => void x.done.push("d ran") },
    ];
    await expect(runPhases(phases, c)).rejects.toBeInstanceOf(CommandError);
    expect(c.done).toEqual(["clean c", "clean a"]);
    expect(c.reporter.of("warning")[0]?.message).toMatch(/clean-up of 'b' failed: cleanup broke/);
    expect(c.reporter.of("phase-end").find((e) => e.phase === "c")).toMatchObject({ ok: false });
    expect(c.reporter.of("run-end")[0]).toMatchObject({ ok: false });
  });
});

describe("interrupts", () => {
  it("forHosts starts no host after the abort; the running one finishes; then InterruptedError", async () => {
    const ac = new AbortController();
    const c = { ...ctx(), signal: ac.signal, phase: "join workers" };
    const err = await forHosts(
      c,
      hosts,
      async (h) => {
        if (h.name === "a") ac.abort();
        await new Promise((r) => setTimeout(r, 20));
        c.done.push(h.name);
      },
      { concurrency: 1 },
    ).catch((e) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect((err as InterruptedError).exitCode).toBe(130);
    expect((err as InterruptedError).message).toBe("interrupted during join workers");
    expect(c.done).toEqual(["a"]);
    expect(c.reporter.of("host-step").map((e) => `${e.host}:${e.status}`)).toEqual(["a:start", "a:done", "b:skipped", "c:skipped"]);
  });

  it("runSteps starts no command after the abort; the steps its batch ran are recorded", async () => {
    const ac = new AbortController();
    const c = { ...ctx(), signal: ac.signal, phase: "prepare" };
    const dir = mkdtempSync(join(tmpdir(), "kubesmith-run-"));
    const ran: string[] = [];
    const runner = {
      host: "a",
      exec: async (cmd: string) => {
        ran.push(cmd.split("\n")[0]!);
        // the interrupt comes while the batch of applies runs
        if (cmd.startsWith("# kubesmith: apply")) ac.abort();
        const r = spawnSync("sh", ["-c", cmd], { encoding: "utf8" });
        return { stdout: r.stdout, stderr: r.stderr, code: r.status, durationMs: 1 };
      },
      upload: async () => undefined,
      download: async () => Buffer.alloc(0),
      close: async () => undefined,
    };
    const steps = [1, 2].map((i) => ({ id: `s${i}`, what: `step ${i}`, probe: `[ -e ${dir}/s${i} ]`, apply: `touch ${dir}/s${i}` }));
    const err = await runSteps(c, "a", runner, steps).catch((e) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(ran).toEqual(["# kubesmith: probe s1, s2", "# kubesmith: apply s1, s2 (each in order, as needed)"]);
    expect(c.changes.map((x) => x.what)).toEqual(["step 1", "step 2"]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("runPhases starts no phase after the abort, runs no clean-up, ends with result interrupted", async () => {
    const ac = new AbortController();
    const c = { ...ctx(), signal: ac.signal };
    const cleaned: string[] = [];
    const phases: Phase<C>[] = [
      { title: "one", run: async () => ac.abort(), cleanUp: async () => void cleaned.push("one") },
      { title: "two", run: async (x) => void x.done.push("two") },
    ];
    const err = await runPhases(phases, c).catch((e) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(c.done).toEqual([]);
    expect(cleaned).toEqual([]);
    expect(c.reporter.of("phase-start").map((e) => e.phase)).toEqual(["one"]);
    expect(c.reporter.events.at(-1)).toMatchObject({ kind: "run-end", ok: false, result: "interrupted" });
  });

  it("a phase that does not end after the interrupt is left after the grace period", async () => {
    const ac = new AbortController();
    const c = { ...ctx(), signal: ac.signal, interruptGraceMs: 50 };
    const t0 = performance.now();
    const phases: Phase<C>[] = [{ title: "wait for the API", run: () => new Promise(() => ac.abort()) }];
    const err = await runPhases(phases, c, { end: false }).catch((e) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect((err as InterruptedError).message).toBe("interrupted during wait for the API");
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(c.reporter.of("run-end")).toEqual([]);
    expect(c.reporter.of("phase-end")).toMatchObject([{ phase: "wait for the API", ok: false, error: "interrupted during wait for the API" }]);
  });
});
