// Choosing the reporter, and what the plain and JSON reporters write for a run's events.
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { RunEvent } from "../../src/ui/events.js";
import { JsonReporter, PlainReporter } from "../../src/ui/reporters.js";
import { chooseReporter, reporterKind, useColor } from "../../src/ui/select.js";
import { TtyReporter } from "../../src/ui/tty.js";

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[/;

const EVENTS: RunEvent[] = [
  { kind: "run-start", command: "up", cluster: "lab", dryRun: false, runDir: "/r" },
  { kind: "phase-start", phase: "prepare hosts" },
  { kind: "host-step", phase: "prepare hosts", host: "cp1", status: "start" },
  { kind: "change", phase: "prepare hosts", host: "cp1", what: "install containerd", dryRun: false },
  { kind: "command", host: "cp1", label: "install", command: "apt-get install -y containerd", code: 0, durationMs: 1200 },
  { kind: "host-step", phase: "prepare hosts", host: "cp1", status: "failed", durationMs: 1300, detail: "cp1: boom" },
  { kind: "warning", host: "cp1", message: "swap is on" },
  { kind: "phase-end", phase: "prepare hosts", ok: false, durationMs: 1400, error: "cp1: boom" },
  { kind: "phase-skip", phase: "kubeconfig", reason: "no admin kubeconfig" },
  { kind: "error", host: "cp1", message: "cp1: boom", exitCode: 7 },
  { kind: "run-end", ok: false, durationMs: 1500, changes: 1 },
];

const env = (e: Record<string, string> = {}) => e as NodeJS.ProcessEnv;

describe("reporterKind / chooseReporter", () => {
  it("tty only on a terminal without CI or --plain; json wins; plain otherwise", () => {
    expect(reporterKind({ isTTY: true, env: env() })).toBe("tty");
    expect(reporterKind({ isTTY: false, env: env() })).toBe("plain");
    expect(reporterKind({ isTTY: true, env: env({ CI: "true" }) })).toBe("plain");
    expect(reporterKind({ isTTY: true, env: env({ CI: "0" }) })).toBe("tty");
    expect(reporterKind({ isTTY: true, plain: true, env: env() })).toBe("plain");
    expect(reporterKind({ isTTY: true, env: env({ TERM: "dumb" }) })).toBe("plain");
    expect(reporterKind({ isTTY: true, output: "json", env: env() })).toBe("json");
    expect(reporterKind({ isTTY: false, output: "json", plain: true, env: env({ CI: "1" }) })).toBe("json");
    const w = () => {};
    expect(chooseReporter({ isTTY: true, env: env(), write: w, stream: process.stdout }).reporter).toBeInstanceOf(TtyReporter);
    expect(chooseReporter({ isTTY: false, env: env(), write: w }).reporter).toBeInstanceOf(PlainReporter);
    expect(chooseReporter({ isTTY: true, output: "json", env: env(), write: w }).reporter).toBeInstanceOf(JsonReporter);
  });

  it("colour only on a terminal and never with NO_COLOR", () => {
    expect(useColor({ isTTY: true, env: env() })).toBe(true);
    expect(useColor({ isTTY: true, env: env({ NO_COLOR: "1" }) })).toBe(false);
    expect(useColor({ isTTY: false, env: env() })).toBe(false);
    expect(useColor({ isTTY: true, env: env({ CI: "true" }) })).toBe(false);
  });

  it("the tty reporter chosen under NO_COLOR writes no colour codes", async () => {
    let out = "";
    const stream = new Writable({ write: (c: Buffer, _e, cb) => ((out += c.toString()), cb()) }) as unknown as NodeJS.WriteStream & { isTTY: boolean };
    stream.isTTY = true;
    const { kind, reporter } = chooseReporter({ isTTY: true, env: env({ NO_COLOR: "1", FORCE_COLOR: "1" }), write: () => {}, stream });
    expect(kind).toBe("tty");
    for (const e of EVENTS) reporter.emit(e);
    await reporter.close?.();
    expect(out).toMatch(/prepare hosts/);
    expect(out).not.toMatch(/\x1b\[[0-9;]*m/);
  });
});

describe("plain and json reporters", () => {
  it("plain: readable lines, no escape codes at all", () => {
    let out = "";
    const r = new PlainReporter((s) => (out += s));
    for (const e of EVENTS) r.emit(e);
    expect(out).not.toMatch(ANSI);
    expect(out).toContain("==> prepare hosts\n");
    expect(out).toContain("    cp1: FAILED cp1: boom\n");
    expect(out).toContain("--- kubeconfig: skipped (no admin kubeconfig)\n");
    expect(out).toMatch(/failed in 1\.5s, 1 change\(s\)\n$/);
  });

  it("json: one object per line, every event, stable field names and an ISO time", () => {
    let out = "";
    const r = new JsonReporter((s) => (out += s));
    for (const e of EVENTS) r.emit(e);
    const lines = out.trimEnd().split("\n");
    expect(lines).toHaveLength(EVENTS.length);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    parsed.forEach((p, i) => {
      expect(p.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const { at: _at, ...rest } = p;
      expect(rest).toEqual(EVENTS[i]);
    });
    expect(out).not.toMatch(ANSI);
  });
});
