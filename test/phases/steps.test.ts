// phases/steps.ts: a list of Steps costs one probe script and one batch of applies, and behaves exactly
// like the step-by-step loop (probe, apply through the gate, probe again): every change recorded on its
// own and in order, a failure named for its step, a step an earlier apply undid applied again, a dry run
// that records what the probes say and changes nothing. The scripts really run (local sh) on files in
// a temp dir.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CommandError } from "../../src/errors.js";
import type { PhaseContext } from "../../src/phases/run.js";
import { runSteps } from "../../src/phases/steps.js";
import type { Step } from "../../src/scripts/step.js";
import { quote } from "../../src/ssh/quote.js";
import type { ExecOptions, ExecResult, Runner } from "../../src/ssh/types.js";
import { MemoryReporter } from "../../src/ui/events.js";

let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kubesmith-steps-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ctx = (dryRun = false): PhaseContext => ({ dryRun, reporter: new MemoryReporter(), concurrency: 4, phase: "prepare", changes: [] });

interface Call {
  label: string;
  stdin?: string;
}

/** Runs each command with local sh (stdin fed as given); `intercept` answers a command instead. */
function shRunner(intercept: (cmd: string) => Partial<ExecResult> | undefined = () => undefined): Runner & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    host: "h1",
    calls,
    async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
      calls.push({ label: opts.label ?? command, ...(opts.stdin !== undefined ? { stdin: String(opts.stdin) } : {}) });
      const i = intercept(command);
      const out: ExecResult = i
        ? { stdout: "", stderr: "", code: 0, durationMs: 1, ...i }
        : (() => {
            const r = spawnSync("sh", ["-c", command], { encoding: "utf8", input: opts.stdin === undefined ? "" : String(opts.stdin) });
            return { stdout: r.stdout, stderr: r.stderr, code: r.status, durationMs: 1 };
          })();
      if (out.code !== 0 && !opts.allowFailure) throw new CommandError("h1", command, out.code, out.stderr, opts.label);
      return out;
    },
    upload: async () => undefined,
    download: async () => Buffer.alloc(0),
    close: async () => undefined,
  };
}

/** A step keeping a file present; its apply also appends its id to a journal file, so the order shows. */
function fileStep(id: string, extra: Partial<Step> = {}): Step {
  const f = join(dir, id);
  return {
    id,
    what: `make ${id}`,
    probe: `[ -e ${quote(f)} ]`,
    apply: `set -eu\necho ${quote(id)} >> ${quote(join(dir, "applied"))}\ntouch ${quote(f)}`,
    ...extra,
  };
}
const applied = () => (existsSync(join(dir, "applied")) ? readFileSync(join(dir, "applied"), "utf8").split("\n").filter(Boolean) : []);

describe("Steps in one probe script and one batch of applies", () => {
  it("a fresh list: two commands, each step applied once and recorded in order; again: one command, nothing", async () => {
    const steps = ["a", "b", "c", "d"].map((id) => fileStep(id));
    writeFileSync(join(dir, "b"), "");
    const c = ctx();
    const r = shRunner();
    expect(await runSteps(c, "h1", r, steps)).toBe(3);
    expect(r.calls.map((x) => x.label)).toEqual(["probe a, b, c, d", "apply a … d (as needed)"]);
    expect(applied()).toEqual(["a", "c", "d"]);
    expect(c.changes.map((x) => x.what)).toEqual(["make a", "make c", "make d"]);

    const again = ctx();
    const r2 = shRunner();
    expect(await runSteps(again, "h1", r2, steps)).toBe(0);
    expect(r2.calls.map((x) => x.label)).toEqual(["probe a, b, c, d"]);
    expect(again.changes).toEqual([]);
  });

  it("dry run: the probes' verdicts are the plan, nothing is applied", async () => {
    const steps = ["a", "b", "c"].map((id) => fileStep(id));
    writeFileSync(join(dir, "c"), "");
    const c = ctx(true);
    const r = shRunner();
    expect(await runSteps(c, "h1", r, steps)).toBe(2);
    expect(c.changes.map((x) => x.what)).toEqual(["make a", "make b"]);
    expect(r.calls.length).toBe(1);
    expect(applied()).toEqual([]);
  });

  it("a failed apply is named for its step, with its own stderr; later steps neither run nor are recorded", async () => {
    const bad = fileStep("b", { apply: "echo 'b said this' >&2\necho noise\nexit 3" });
    const steps = [fileStep("a"), bad, fileStep("c")];
    const c = ctx();
    const err = await runSteps(c, "h1", shRunner(), steps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).message).toBe("h1: 'b' failed with exit code 3: b said this");
    expect(applied()).toEqual(["a"]);
    expect(c.changes.map((x) => x.what)).toEqual(["make a", "make b"]);
  });

  it("an apply whose check still fails stops the list there, naming the step", async () => {
    const steps = [fileStep("a"), fileStep("b", { apply: "true" }), fileStep("c")];
    const err = await runSteps(ctx(), "h1", shRunner(), steps).catch((e: unknown) => e);
    expect(String((err as Error).message)).toBe("h1: step 'b' (make b) ran but its check still fails failed with exit code 1");
    expect(applied()).toEqual(["a"]);
  });

  it("a step that passed its first probe but an earlier apply undid is applied (as the step-by-step loop does)", async () => {
    writeFileSync(join(dir, "b"), "");
    const a = fileStep("a", { apply: `set -eu\necho a >> ${quote(join(dir, "applied"))}\ntouch ${quote(join(dir, "a"))}\nrm -f ${quote(join(dir, "b"))}` });
    const c = ctx();
    const r = shRunner();
    expect(await runSteps(c, "h1", r, [a, fileStep("b"), fileStep("c")])).toBe(3);
    expect(applied()).toEqual(["a", "b", "c"]);
    expect(c.changes.map((x) => x.what)).toEqual(["make a", "make b", "make c"]);
    expect(r.calls.length).toBe(2);
  });

  it("a step with stdin (secret contents) shares the scripts: the stdin read once, fed to it alone, never in the script", async () => {
    const secretStep = (id: string, value: string) =>
      fileStep(id, {
        probe: `want=$(cat)\n[ "$(cat ${quote(join(dir, id))} 2>/dev/null)" = "$want" ]`,
        apply: `set -eu\nwant=$(cat)\necho ${id} >> ${quote(join(dir, "applied"))}\nprintf '%s' "$want" > ${quote(join(dir, id))}`,
        stdin: value,
        secrets: [value],
      });
    const scripts: string[] = [];
    const r = shRunner((cmd) => void scripts.push(cmd));
    const c = ctx();
    // a reads stdin too: it must get nothing of the secret
    const a = fileStep("a", { apply: `set -eu\necho a >> ${quote(join(dir, "applied"))}\ncat > ${quote(join(dir, "a"))}` });
    expect(await runSteps(c, "h1", r, [a, secretStep("s", "hunter2\n\n"), fileStep("b"), secretStep("t", "other")])).toBe(4);
    expect(readFileSync(join(dir, "s"), "utf8")).toBe("hunter2"); // $(cat) in the step drops the trailing newlines, as it does alone
    expect(readFileSync(join(dir, "a"), "utf8")).toBe("");
    expect(readFileSync(join(dir, "t"), "utf8")).toBe("other");
    expect(applied()).toEqual(["a", "s", "b", "t"]);
    // one stdin per script: t (other contents) is probed in a script of its own, probed again after the batch and applied (and checked) in one script
    expect(r.calls.map((x) => x.label)).toEqual(["probe a, s, b", "probe t", "apply a … b (as needed)", "probe t", "t"]);
    expect(r.calls.map((x) => x.stdin)).toEqual(["hunter2\n\n", "other", "hunter2\n\n", "other", "other"]);
    for (const sc of scripts) expect(sc).not.toMatch(/hunter2|other/);
  });

  it("a secret's trailing newlines reach a step that keeps them", async () => {
    const keep = fileStep("k", { probe: "false", apply: `cat > ${quote(join(dir, "k"))}`, stdin: "x\n\n" });
    const probe = fileStep("p", { probe: `[ -e ${quote(join(dir, "k"))} ]` });
    await runSteps(ctx(), "h1", shRunner(), [keep, probe]).catch(() => undefined);
    expect(readFileSync(join(dir, "k"), "utf8")).toBe("x\n\n");
  });
});

describe("the package index and transient failures inside a batch", () => {
  const install = (id: string, failFirst?: string): Step => {
    const marker = join(dir, `${id}.tried`);
    return fileStep(id, {
      packageIndex: { manager: "apt", use: "install" },
      // fails once with the given output (a transient apt error), then works
      ...(failFirst
        ? { apply: `set -eu\nif [ ! -e ${quote(marker)} ]; then touch ${quote(marker)}; echo ${quote(failFirst)} >&2; exit 100; fi\necho ${id} >> ${quote(join(dir, "applied"))}\ntouch ${quote(join(dir, id))}` }
        : {}),
    });
  };
  const repo = (id: string): Step => fileStep(id, { packageIndex: { manager: "apt", use: "repository" } });
  const refresh = (cmd: string) => (cmd === "apt-get update -q" ? {} : undefined);

  it("repositories, then one refresh, then the installs: the index is refreshed once, between the two batches", async () => {
    const steps = [fileStep("mod"), repo("repo1"), install("pkg1"), install("pkg2")];
    const c = ctx();
    const r = shRunner(refresh);
    expect(await runSteps(c, "h1", r, steps)).toBe(4);
    expect(r.calls.map((x) => x.label)).toEqual(["probe mod, repo1, pkg1, pkg2", "apply mod … pkg2 (as needed)", "refresh package index", "apply pkg1 … pkg2 (as needed)"]);
    expect(applied()).toEqual(["mod", "repo1", "pkg1", "pkg2"]);
    expect(c.changes.map((x) => x.what)).toEqual(["make mod", "make repo1", "make pkg1", "make pkg2"]);
  });

  it("a transient failure in a batch is tried again on its own, labelled as the second try; the rest follows", async () => {
    const steps = [install("pkg1", "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242"), fileStep("after")];
    const c = ctx();
    const r = shRunner(refresh);
    expect(await runSteps(c, "h1", r, steps)).toBe(2);
    expect(r.calls.map((x) => x.label)).toEqual([
      "probe pkg1, after",
      "refresh package index",
      "apply pkg1 … after (as needed)",
      "pkg1 (try 2 of 5: package manager lock held by another process)",
      "probe pkg1",
      "probe after",
      "after",
    ]);
    expect(applied()).toEqual(["pkg1", "after"]);
  });

  it("a real package error is not tried again", async () => {
    const steps = [install("pkg1", "E: Unable to locate package pkg1")];
    const err = await runSteps(ctx(), "h1", shRunner(refresh), steps).catch((e: unknown) => e);
    expect((err as Error).message).toBe("h1: 'pkg1' failed with exit code 100: E: Unable to locate package pkg1");
  });
});
