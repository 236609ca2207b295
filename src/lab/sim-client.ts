// The lab's compiled client of the resident node simulator (src/lab/sim/client.c): built once per machine
// with the machine's C compiler, kept in the labs' root under the hash of its source and flags, and linked
// into each lab's simbin as every simulated command. Without a compiler (or when the build fails) the lab
// uses the bash client that shim.ts writes, as before; the compiled one falls back to it for every case
// but the common one. Issue 12: starting bash is most of a simulated command's CPU (≈ 2.4 → 1.1 ms).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "./paths.js";
import { findProgram } from "./requirements.js";
import { HARDWARE_FILE } from "./sim/hardware.js";
import { BASH_CLIENT_DIR, KEY, RESIDENT_PORT } from "./sim/shim.js";

export function simClientSource(root = packageRoot()): string {
  return path.join(root, "src", "lab", "sim", "client.c");
}

/**
 * The compiled client in `cacheDir` (built when missing), or undefined when this machine cannot build it.
 * KUBESIM_CLIENT=bash in the environment of `lab up` chooses the bash client.
 */
export function buildSimClient(cacheDir: string, source = simClientSource()): string | undefined {
  if (process.env.KUBESIM_CLIENT === "bash") return undefined;
  const cc = findProgram("cc") ?? findProgram("gcc");
  if (!cc || !existsSync(source)) return undefined;
  // static: no dynamic loader at each start (its symbol lookups and CPU feature probes are most of a small
  // program's start on the lab machines)
  const flags = ["-O2", "-static", "-s", "-Wall", `-DRESIDENT_PORT=${RESIDENT_PORT}`, `-DKEY_FILE=${JSON.stringify(KEY)}`, `-DHARDWARE_FILE=${JSON.stringify(HARDWARE_FILE)}`, `-DBASH_CLIENT_DIR=${JSON.stringify(BASH_CLIENT_DIR)}`];
  const hash = createHash("sha256").update(readFileSync(source)).update(`\0${cc}\0${flags.join("\0")}`).digest("hex").slice(0, 16);
  const out = path.join(cacheDir, `kubesim-client-${hash}`);
  if (existsSync(out)) return out;
  mkdirSync(cacheDir, { recursive: true, mode: 0o755 });
  // labs made at once may build it at once: each into a file of its own, then an atomic rename
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync(cc, [...flags, "-o", tmp, source], { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    return undefined;
  }
  renameSync(tmp, out);
  return out;
}

/** `to` becomes the client: a hard link (the labs' root is one file system), a copy when that fails. */
export function placeSimClient(client: string, to: string): void {
  rmSync(to, { force: true });
  try {
    linkSync(client, to);
  } catch {
    copyFileSync(client, to);
  }
}
