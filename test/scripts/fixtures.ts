// Shared inputs and helpers for the script generator tests.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import type { KeepalivedOptions } from "../../src/scripts/keepalived.js";
import { missingReason, programPath } from "../helpers/requirements.js";

export const GOLDEN_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "golden");
export const UPDATE = process.env.UPDATE_GOLDEN === "1";

/** Compare with test/scripts/golden/NAME, or (UPDATE_GOLDEN=1) rewrite it. */
export function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN_DIR, name);
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  if (!existsSync(file)) {
    throw new Error(`golden file ${name} is missing: run UPDATE_GOLDEN=1 npx vitest run test/scripts, then read it`);
  }
  expect(actual, `output differs from golden/${name} (UPDATE_GOLDEN=1 rewrites it)`).toBe(readFileSync(file, "utf8"));
}

export const KEEPALIVED: KeepalivedOptions = {
  vip: "198.18.0.100",
  interface: "eth0",
  routerId: 51,
  priority: 150,
  peers: ["198.18.0.12", "198.18.0.13"],
  self: "198.18.0.11",
  healthCheck: "/etc/keepalived/check_apiserver.sh",
};

/** The same control plane on VRRPv2 with PASS authentication (whole-second adverts only). */
export const KEEPALIVED_V2: KeepalivedOptions = { ...KEEPALIVED, vrrpVersion: 2, authPass: "Zq8.x-2k" };

export const TOKEN = "abcdef.0123456789abcdef";
export const CERT_KEY = "0f".repeat(32);
export const CA_HASH = `sha256:${"a1".repeat(32)}`;

export interface ShResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a script with a shell (dash by default), optional stdin and extra env. */
export function runSh(
  script: string,
  opts: { shell?: string; stdin?: string; env?: Record<string, string>; cwd?: string } = {},
): ShResult {
  const r = spawnSync(opts.shell ?? "dash", ["-c", script], {
    input: opts.stdin ?? "",
    encoding: "utf8",
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Syntax check with `SHELL -n`; returns stderr ("" when fine). */
export function syntaxErrors(shell: string, script: string): string {
  const r = spawnSync(shell, ["-n"], { input: script, encoding: "utf8" });
  return r.status === 0 ? "" : r.stderr || `exit ${r.status}`;
}

export function have(cmd: string): boolean {
  return programPath(cmd) !== undefined;
}

export const IS_ROOT = typeof process.getuid === "function" && process.getuid() === 0;
