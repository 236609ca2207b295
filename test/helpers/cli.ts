// Running programs from tests: any command with its output collected, and the built kubesmith CLI.
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";
import { join } from "node:path";
import { packageRoot } from "../../src/util/pkg.js";

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      env: { ...process.env, ...(opts.env ?? {}) },
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    if (opts.input !== undefined) {
      child.stdin!.on("error", () => {});
      child.stdin!.end(opts.input);
    }
  });
}

/** The built CLI (dist/cli.js), as a user runs it: no terminal, no stdin. */
export function kubesmith(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return run(process.execPath, [join(packageRoot(), "dist", "cli.js"), ...args], opts);
}

/** The built CLI started as a user starts it from a script (no terminal, CI=true), for a test that acts on it while it runs. */
export function spawnCli(args: string[], cwd: string): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, [join(packageRoot(), "dist", "cli.js"), ...args], { cwd, env: { ...process.env, CI: "true" }, stdio: ["ignore", "pipe", "pipe"] });
}

export interface Interrupted extends RunResult {
  /** Whether the trigger was seen and the action taken. */
  sent: boolean;
}

/**
 * Watches a running kubesmith's `-o json` events: once `when` holds for the complete lines printed so far,
 * runs `act` after `afterMs` (by default: SIGINT to it). Resolves when it has ended.
 */
export function actWhen(
  child: ChildProcessByStdio<null, Readable, Readable>,
  when: (events: JsonEvent[]) => boolean,
  opts: { afterMs?: number; act?: (child: ChildProcessByStdio<null, Readable, Readable>) => void | Promise<void> } = {},
): Promise<Interrupted> {
  let stdout = "";
  let stderr = "";
  let sent = false;
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    if (!sent && when(jsonEvents(stdout.slice(0, stdout.lastIndexOf("\n") + 1)))) {
      sent = true;
      setTimeout(() => {
        void Promise.resolve(opts.act ? opts.act(child) : child.kill("SIGINT")).catch(() => undefined);
      }, opts.afterMs ?? 0);
    }
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr, sent })));
}

/** One line of `-o json` output (docs/events.md), loosely typed for assertions. */
export interface JsonEvent {
  kind: string;
  host?: string;
  what?: string;
  ok?: boolean;
  changes?: number;
  phase?: string;
  status?: string;
  result?: string;
  runDir?: string;
}

/** The JSON events a run printed with `-o json`: every line that is a JSON object. */
export function jsonEvents(stdout: string): JsonEvent[] {
  return stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as JsonEvent);
}

/** The changes a run made (or, in a dry run, would make). */
export function changesOf(r: RunResult): JsonEvent[] {
  return jsonEvents(r.stdout).filter((e) => e.kind === "change");
}
