// Fixture for tests that need simulated hosts. Lab tests are skipped only when not root and CI is
// unset; under CI without root they fail with a clear message (requireRoot).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { labDown, labUp, loadLabState, type LabNetwork, type LabOs, type LabState } from "../../src/lab/lab.js";
import { packageRoot, simMainPath } from "../../src/lab/paths.js";
import { missingPrograms } from "../../src/lab/requirements.js";

export const isRoot = process.getuid?.() === 0 && process.platform === "linux";
/**
 * describe.skipIf(labSkip): skip only on a developer machine without root or without the lab's programs
 * (test/setup/requirements.ts prints which). Under CI neither is a skip: requireRoot and the global check fail.
 */
export const labSkip = (!isRoot || missingPrograms(["lab"]).length > 0) && !process.env.CI;

/** Call in beforeAll: under CI a missing root is an error, not a skip. */
export function requireRoot(): void {
  if (!isRoot) {
    throw new Error("lab tests need root and Linux network namespaces, and CI is set so they may not be skipped: run the tests with sudo");
  }
}

export function newestMtime(dir: string, ext: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p, ext));
    else if (e.name.endsWith(ext)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Rebuild dist unless fresh() says it is current; one builder at a time across test files (a lock dir).
 * tsc emits even when unrelated parts of the tree have type errors.
 */
export async function ensureDistBuilt(fresh: () => boolean): Promise<void> {
  if (fresh()) return;
  const root = packageRoot();
  const lock = path.join(os.tmpdir(), "kubesmith-sim-build.lock");
  for (let i = 0; i < 600; i++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (fresh()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    if (!fresh()) {
      spawnSync(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", path.join(root, "tsconfig.build.json")], { stdio: "ignore" });
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Hosts run the compiled simulator: rebuild dist when src/lab is newer. */
export async function ensureSimBuilt(): Promise<void> {
  const root = packageRoot();
  const main = simMainPath(root);
  await ensureDistBuilt(() => existsSync(main) && statSync(main).mtimeMs >= newestMtime(path.join(root, "src", "lab"), ".ts"));
  if (!existsSync(main)) throw new Error(`could not build the node simulator (${main}): run npm run build`);
}

export interface StartedLab {
  state: LabState;
  inventoryPath: string;
  down(): Promise<void>;
}

/** Bring up a lab (removing a leftover one of the same name first). Subnets are derived from the name. */
export async function startLab(o: { name: string; hosts?: number; os?: LabOs | LabOs[]; layout?: string; network?: LabNetwork }): Promise<StartedLab> {
  requireRoot();
  await ensureSimBuilt();
  // Several checkouts on one machine (git worktrees) would share lab names: KUBESMITH_TEST_LAB_PREFIX keeps them apart.
  o = { ...o, name: `${process.env.KUBESMITH_TEST_LAB_PREFIX ?? ""}${o.name}` };
  if (loadLabState(o.name)) await labDown(o.name);
  const inventoryPath = path.join(os.tmpdir(), `kubesmith-lab-${o.name}.yaml`);
  const state = await labUp({ ...o, inventoryOut: inventoryPath });
  return { state, inventoryPath, down: () => labDown(o.name) };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** OpenSSH client options for a lab host: the lab key, its known_hosts, strict checking, batch mode. */
export function sshArgs(state: LabState, host: string, user = "root"): string[] {
  const h = state.hosts.find((x) => x.name === host || x.address === host);
  if (!h) throw new Error(`no host ${host} in lab ${state.name}`);
  return [
    "-i", state.keyFile,
    "-o", "BatchMode=yes",
    "-o", "IdentitiesOnly=yes",
    "-o", `UserKnownHostsFile=${state.knownHostsFile}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "StrictHostKeyChecking=yes",
    "-o", "ConnectTimeout=10",
    "-o", "LogLevel=ERROR",
    `${user}@${h.address}`,
  ];
}

/** Run a command on a lab host with the real ssh client. */
export function ssh(state: LabState, host: string, command: string, opts: { user?: string; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", [...sshArgs(state, host, opts.user), command], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

/** Poll until `fn` returns a truthy value or the time is up (then returns the last value). */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 10_000, stepMs = 50): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v || Date.now() - t0 > timeoutMs) return v;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/**
 * Every file in the named hosts' overlay upper dirs (all hosts by default) with its size and mtime, except the
 * simulator's own records: what a run wrote on them, to compare before and after.
 */
export function upperFiles(lab: StartedLab, hosts?: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (p.includes("/kubesim/")) continue; // the simulator records every command it plays, probes too
      if (e.isDirectory()) walk(p);
      else {
        const st = statSync(p, { throwIfNoEntry: false });
        out.set(p, st ? `${st.size}:${st.mtimeMs}` : "gone");
      }
    }
  };
  for (const h of lab.state.hosts) if (!hosts || hosts.includes(h.name)) walk(path.join(h.dir, "upper"));
  return out;
}
