// phases/packages.ts against a recording runner: the package index is refreshed once per host per run
// (again only after a repository changed), transient failures are retried within the bound with each try
// labelled in the host log, and a real error is not retried.
import { describe, expect, it } from "vitest";
import { applyStep, execRetryingTransient, type RetryPolicy } from "../../src/phases/packages.js";
import { installStep, packageTool, repositoryStep } from "../../src/scripts/packages.js";
import { fileStep, type Step } from "../../src/scripts/step.js";
import type { ExecOptions, ExecResult, Runner } from "../../src/ssh/types.js";
import { CommandError } from "../../src/errors.js";

interface Call {
  command: string;
  label?: string;
}

/** Answers each command with the first matching scripted result (consumed), else success. */
function fakeRunner(script: { match: RegExp; result: Partial<ExecResult> }[] = []): Runner & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    host: "h1",
    calls,
    async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
      calls.push({ command, ...(opts.label !== undefined ? { label: opts.label } : {}) });
      const i = script.findIndex((s) => s.match.test(command));
      const r = i >= 0 ? script.splice(i, 1)[0]!.result : {};
      const out: ExecResult = { stdout: "", stderr: "", code: 0, durationMs: 1, ...r };
      if (out.code !== 0 && !opts.allowFailure) throw new CommandError("h1", command, out.code, out.stderr);
      return out;
    },
    upload: async () => undefined,
    download: async () => Buffer.from(""),
    close: async () => undefined,
  };
}

const FAST: RetryPolicy = { attempts: 5, firstDelayMs: 1, maxDelayMs: 2 };
const apt = packageTool("apt");
const dnf = packageTool("dnf");
const install = (id: string, tool = apt) => installStep(tool, { id, what: id, pkgs: [id] });
const repo = (id: string, tool = apt): Step => repositoryStep(tool, fileStep({ id, what: id, file: { path: `/etc/apt/sources.list.d/${id}.list`, content: "deb x /\n" } }));
const refreshes = (r: { calls: Call[] }, cmd = "apt-get update -q") => r.calls.filter((c) => c.command === cmd).length;

describe("the package index, once per host per run", () => {
  it("repositories first, then installs: one refresh; a later run object starts over", async () => {
    const run = {};
    const r = fakeRunner();
    for (const s of [repo("docker"), repo("kubernetes"), install("socat"), install("containerd.io"), install("kubeadm")]) await applyStep(run, "h1", r, s, FAST);
    expect(refreshes(r)).toBe(1);
    // the refresh came after both repositories and before the first install
    const order = r.calls.map((c) => c.label);
    expect(order).toEqual(["docker", "kubernetes", "refresh package index", "socat", "containerd.io", "kubeadm"]);
    // another host of the same run has its own index
    await applyStep(run, "h2", r, install("socat"), FAST);
    expect(refreshes(r)).toBe(2);
    // a new run refreshes again
    await applyStep({}, "h1", r, install("socat"), FAST);
    expect(refreshes(r)).toBe(3);
  });

  it("a repository changed after the refresh makes the next install refresh again; steps without packages never refresh", async () => {
    const run = {};
    const r = fakeRunner();
    await applyStep(run, "h1", r, install("socat"), FAST);
    await applyStep(run, "h1", r, fileStep({ id: "f", what: "f", file: { path: "/etc/x", content: "x" } }), FAST);
    await applyStep(run, "h1", r, install("conntrack"), FAST);
    expect(refreshes(r)).toBe(1);
    await applyStep(run, "h1", r, repo("kubernetes"), FAST);
    await applyStep(run, "h1", r, install("kubeadm"), FAST);
    expect(refreshes(r)).toBe(2);
  });

  it("dnf refreshes with dnf makecache", async () => {
    const r = fakeRunner();
    await applyStep({}, "h1", r, install("socat", dnf), FAST);
    expect(refreshes(r, "dnf makecache -q")).toBe(1);
  });

  it("a refresh that fails for real stops at once, naming the step and apt's last line", async () => {
    const r = fakeRunner([{ match: /apt-get update/, result: { code: 100, stderr: "W: GPG error: … NO_PUBKEY 234654DA9A296436\nE: The repository 'https://pkgs.k8s.io/core:/stable:/v1.36/deb  InRelease' is not signed.\n" } }]);
    const err = await applyStep({}, "h1", r, install("kubeadm"), FAST).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).message).toMatch(/refreshing the package index before 'kubeadm'.*exit code 100: E: The repository .* is not signed\./);
    expect(r.calls.length).toBe(1);
  });
});

describe("transient package-manager failures", () => {
  const LOCK = "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 1234 (apt-get)\nE: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?\n";

  it("are tried again with backoff, each try under its own label, until they succeed", async () => {
    const waits: number[] = [];
    const r = fakeRunner([
      { match: /install/, result: { code: 100, stderr: LOCK } },
      { match: /install/, result: { code: 100, stderr: "E: Failed to fetch http://deb.debian.org/x.deb  503  Service Unavailable [IP: 1.2.3.4 80]\n" } },
    ]);
    const res = await execRetryingTransient(r, "apt-get install -y socat", { label: "base-packages" }, { attempts: 5, firstDelayMs: 1000, maxDelayMs: 8000 }, async (ms) => {
      waits.push(ms);
    });
    expect(res.code).toBe(0);
    expect(waits).toEqual([1000, 2000]);
    expect(r.calls.map((c) => c.label)).toEqual([
      "base-packages",
      "base-packages (try 2 of 5: package manager lock held by another process)",
      "base-packages (try 3 of 5: mirror answered HTTP 5xx)",
    ]);
  });

  it("stop at the bound and return the last failure", async () => {
    const r = fakeRunner(Array.from({ length: 9 }, () => ({ match: /install/, result: { code: 100, stderr: LOCK } })));
    const waits: number[] = [];
    const res = await execRetryingTransient(r, "apt-get install -y socat", { label: "x" }, { attempts: 5, firstDelayMs: 1000, maxDelayMs: 8000 }, async (ms) => {
      waits.push(ms);
    });
    expect(res.code).toBe(100);
    expect(r.calls.length).toBe(5);
    expect(waits).toEqual([1000, 2000, 4000, 8000]);
    expect(waits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(60_000);
  });

  it("no further try once the run is interrupted", async () => {
    const ac = new AbortController();
    const r = fakeRunner(Array.from({ length: 3 }, () => ({ match: /install/, result: { code: 100, stderr: LOCK } })));
    ac.abort();
    const res = await applyStep({ signal: ac.signal }, "h1", r, install("socat"), FAST);
    expect(res.code).toBe(100);
    expect(r.calls.filter((c) => c.command.includes("install")).length).toBe(1);
  });

  it("a real error is not tried again", async () => {
    const r = fakeRunner([{ match: /install/, result: { code: 100, stderr: "E: Unable to locate package socatt\n" } }]);
    const res = await execRetryingTransient(r, "apt-get install -y socatt", { label: "x" }, FAST);
    expect(res.code).toBe(100);
    expect(r.calls.length).toBe(1);
  });

  it("apt-get update's network warnings (exit 0) are tried again for the refresh only", async () => {
    const warn = { code: 0, stderr: "W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Temporary failure resolving 'deb.debian.org'\nW: Some index files failed to download. They have been ignored, or old ones used instead.\n" };
    const r = fakeRunner([{ match: /update/, result: warn }]);
    await applyStep({}, "h1", r, install("socat"), FAST);
    expect(refreshes(r)).toBe(2);
    const r2 = fakeRunner([{ match: /install/, result: warn }]);
    await applyStep({}, "h1", r2, install("socat"), FAST);
    expect(r2.calls.filter((c) => c.command.includes("install")).length).toBe(1);
  });
});
