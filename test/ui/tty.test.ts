// The listr2 terminal reporter, fed event sequences as runPhases emits them, drawing on a fake terminal.
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { RunEvent } from "../../src/ui/events.js";
import { TtyReporter } from "../../src/ui/tty.js";

function fakeTty(): { stream: NodeJS.WriteStream; text: () => string } {
  let buf = "";
  const w = new Writable({
    write(chunk: Buffer | string, _e, cb) {
      buf += chunk.toString();
      cb();
    },
  }) as unknown as NodeJS.WriteStream & { isTTY: boolean; columns: number; rows: number };
  w.isTTY = true;
  w.columns = 120;
  w.rows = 40;
  return { stream: w, text: () => buf };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// eslint-disable-next-line no-control-regex
const SGR = /\x1b\[[0-9;]*m/;
// eslint-disable-next-line no-control-regex
const strip = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");

async function play(r: TtyReporter, events: RunEvent[], gapMs = 0): Promise<void> {
  for (const e of events) {
    r.emit(e);
    if (gapMs) await sleep(gapMs);
  }
  await r.close();
}

const RUN: RunEvent[] = [
  { kind: "run-start", command: "up", cluster: "lab", dryRun: false, runDir: "/tmp/x" },
  { kind: "phase-start", phase: "gather facts" },
  { kind: "host-step", phase: "gather facts", host: "cp1", status: "start" },
  { kind: "host-step", phase: "gather facts", host: "w1", status: "start" },
  { kind: "host-step", phase: "gather facts", host: "cp1", status: "done", durationMs: 120 },
  { kind: "host-step", phase: "gather facts", host: "w1", status: "done", durationMs: 340 },
  { kind: "phase-end", phase: "gather facts", ok: true, durationMs: 400 },
  { kind: "phase-skip", phase: "control-plane endpoint", reason: "one control plane" },
  { kind: "phase-start", phase: "join the workers" },
  { kind: "host-step", phase: "join the workers", host: "w1", status: "start" },
  { kind: "host-step", phase: "join the workers", host: "w2", status: "start" },
  { kind: "host-step", phase: "join the workers", host: "w1", status: "done", durationMs: 900 },
  { kind: "host-step", phase: "join the workers", host: "w2", status: "failed", durationMs: 1300, detail: "w2: kubeadm join failed with exit code 1" },
  { kind: "phase-end", phase: "join the workers", ok: false, durationMs: 1400, error: "w2: kubeadm join failed with exit code 1" },
  { kind: "run-end", ok: false, durationMs: 2000, changes: 3 },
];

describe("TtyReporter (listr2)", () => {
  it("draws one line per phase with its duration, host sub-lines while running, failed hosts kept", async () => {
    const t = fakeTty();
    const r = new TtyReporter({ stream: t.stream, color: true, tickMs: 20 });
    // up to both hosts started: the running sub-lines must appear (waited for, not timed)
    for (const e of RUN.slice(0, 4)) r.emit(e);
    const deadline = Date.now() + 10_000;
    while (!/… cp1 \d+\.\ds\n.*… w1 /.test(strip(t.text())) && Date.now() < deadline) await sleep(20);
    await play(r, RUN.slice(4));
    const out = strip(t.text());
    if (process.env.KS_DUMP) process.stderr.write(`OUT=${JSON.stringify(out)}\n`);
    expect(out).toMatch(/^up lab$/m);
    expect(out).toMatch(/✔ gather facts 0\.4s \(2 hosts\)/);
    expect(out).toMatch(/control-plane endpoint: skipped \(one control plane\)/);
    expect(out).toMatch(/✖ join the workers 1\.4s \(2 hosts\)/);
    // while running, each host had its own line
    expect(out).toMatch(/… cp1 \d+\.\ds\n.*… w1 \d+\.\ds/);
    expect(out).toMatch(/✔ w1 0\.9s/);
    // after the phase, only the failed host stays under it
    const tail = out.slice(out.lastIndexOf("join the workers 1.4s"));
    expect(tail).toMatch(/✖ w2 1\.3s {2}w2: kubeadm join failed/);
    expect(tail).not.toMatch(/✔ w1/);
    expect(out).toMatch(/^failed in 2\.0s, 3 change\(s\)$/m);
    // order on screen follows the events
    expect(out.indexOf("up lab")).toBeLessThan(out.indexOf("gather facts"));
    expect(out.lastIndexOf("gather facts 0.4s")).toBeLessThan(out.indexOf("control-plane endpoint: skipped"));
    expect(out.indexOf("failed in 2.0s")).toBeGreaterThan(out.lastIndexOf("join the workers 1.4s"));
  }, 20_000);

  it("all events at once (no gaps) still render every phase in order", async () => {
    const t = fakeTty();
    const r = new TtyReporter({ stream: t.stream, color: true });
    await play(r, RUN);
    const out = strip(t.text());
    expect(out).toMatch(/✔ gather facts 0\.4s/);
    expect(out).toMatch(/✖ join the workers 1\.4s/);
    expect(out.lastIndexOf("gather facts 0.4s")).toBeLessThan(out.lastIndexOf("join the workers 1.4s"));
  });

  it("with colour off (NO_COLOR) writes no colour codes, only cursor movement", async () => {
    const t = fakeTty();
    const r = new TtyReporter({ stream: t.stream, color: false, tickMs: 20 });
    await play(r, RUN, 10);
    expect(t.text()).not.toMatch(SGR);
    expect(strip(t.text())).toMatch(/✔ gather facts/);
  }, 20_000);

  it("a run cut short (no phase-end) is closed as failed instead of hanging", async () => {
    const t = fakeTty();
    const r = new TtyReporter({ stream: t.stream, tickMs: 20 });
    r.emit({ kind: "phase-start", phase: "prepare hosts" });
    r.emit({ kind: "warning", host: "cp1", message: "swap is on" });
    await sleep(50);
    await r.close();
    const out = strip(t.text());
    expect(out).toMatch(/✖ prepare hosts/);
    expect(out).toMatch(/warning: cp1: swap is on/);
  });

  it("while a host runs, its line shows the step it is on (its latest change or command), cut to the terminal's width", async () => {
    const t = fakeTty();
    const r = new TtyReporter({ stream: t.stream, tickMs: 20 });
    r.emit({ kind: "run-start", command: "up", cluster: "lab", dryRun: false, runDir: "/r" });
    r.emit({ kind: "phase-start", phase: "prepare the hosts" });
    r.emit({ kind: "host-step", phase: "prepare the hosts", host: "cp1", status: "start" });
    r.emit({ kind: "host-step", phase: "prepare the hosts", host: "w1", status: "start" });
    r.emit({ kind: "command", host: "cp1", label: "probe kernel-modules", command: "lsmod", code: 1, durationMs: 3, check: true });
    r.emit({ kind: "change", phase: "prepare the hosts", host: "w1", what: `install containerd.io ${"x".repeat(300)}`, dryRun: false });
    const deadline = Date.now() + 10_000;
    while (!/… w1 \d+\.\ds {2}install containerd\.io x+…/.test(strip(t.text())) && Date.now() < deadline) await sleep(20);
    const live = strip(t.text());
    expect(live).toMatch(/… cp1 \d+\.\ds {2}probe kernel-modules/);
    const w1 = live.split("\n").find((l) => /… w1 .*install containerd/.test(l))!;
    expect(w1.length).toBeLessThanOrEqual(120);
    r.emit({ kind: "host-step", phase: "prepare the hosts", host: "cp1", status: "done", durationMs: 50 });
    r.emit({ kind: "host-step", phase: "prepare the hosts", host: "w1", status: "done", durationMs: 60 });
    r.emit({ kind: "phase-end", phase: "prepare the hosts", ok: true, durationMs: 70 });
    await r.close();
  }, 20_000);
});
