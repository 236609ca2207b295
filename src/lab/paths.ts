// Where the lab keeps its state, and where the kubesmith package (and so the node simulator) lives.
import { existsSync } from "node:fs";
import path from "node:path";
import { packageRoot } from "../util/pkg.js";
import { fileURLToPath } from "node:url";

/**
 * Root of every lab's state. It must not lie under a directory the hosts overlay (/etc, /var/lib,
 * /var/log, /root, /home, /usr/local/bin, /tmp, /run): the hosts write their command logs and the
 * shared cluster state here, and overlayfs refuses an upper dir inside its own lower dir.
 */
export function labRoot(): string {
  return process.env.KUBESMITH_LAB_DIR ?? "/var/kubesmith-lab";
}

export function labDir(name: string): string {
  return path.join(labRoot(), name);
}

/** Directories every lab host sees as its own copy-on-write (or private) version. */
export const OVERLAID = ["/etc", "/var/lib", "/var/log", "/root", "/home", "/usr/local/bin"] as const;
export const PRIVATE_TMPFS = ["/run", "/tmp"] as const;

/** True when `p` is hidden or replaced inside a lab host. */
export function hiddenInHost(p: string): boolean {
  return [...OVERLAID, ...PRIVATE_TMPFS].some((d) => p === d || p.startsWith(`${d}/`));
}

// One definition of the package root for the whole tree (it works from src/ and dist/ alike).
export { packageRoot };

/** The compiled simulator entry point (always the dist build: hosts run it with plain node). */
export function simMainPath(root = packageRoot()): string {
  return path.join(root, "dist", "lab", "sim", "main.js");
}
