// The cluster lock: a file on the first control plane, created atomically (sh noclobber), naming who holds
// it. A second run refuses to start; a lock left by a dead run of this same machine is taken over; any other
// needs --force-unlock.
import { hostname, userInfo } from "node:os";
import { LockedError } from "../errors.js";
import { quote } from "../ssh/quote.js";
import type { Runner } from "../ssh/types.js";

export const LOCK_FILE = "/var/lib/kubesmith/lock";

export interface LockInfo {
  holder: string;
  machine: string;
  pid: number;
  command: string;
  startedAt: string;
}

export function ourLock(command: string): LockInfo {
  return { holder: `${userInfo().username}@${hostname()}`, machine: hostname(), pid: process.pid, command, startedAt: new Date().toISOString() };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

const CREATE = `mkdir -p /var/lib/kubesmith && chmod 700 /var/lib/kubesmith && if (set -C; cat > ${quote(LOCK_FILE)}) 2>/dev/null; then echo ACQUIRED; else cat ${quote(LOCK_FILE)}; fi`;

export async function acquireLock(runner: Runner, me: LockInfo, opts: { force?: boolean; warn: (m: string) => void }): Promise<void> {
  const body = JSON.stringify(me);
  const r = await runner.exec(CREATE, { sudo: true, stdin: body, label: "take the cluster lock" });
  if (r.stdout.trim() === "ACQUIRED") return;
  let held: LockInfo | undefined;
  try {
    held = JSON.parse(r.stdout) as LockInfo;
  } catch {
    held = undefined;
  }
  const stale = held !== undefined && held.machine === me.machine && !pidAlive(held.pid);
  if (!stale && !opts.force) {
    throw new LockedError(
      `${runner.host}: the cluster is locked by ${held ? `${held.holder} (pid ${held.pid}, '${held.command}' since ${held.startedAt})` : `an unreadable lock ${LOCK_FILE}`}`,
      { hint: "wait for that run to finish; if it is dead, run again with --force-unlock" },
    );
  }
  opts.warn(`taking over ${stale ? "a stale" : "a held"} cluster lock${held ? ` of ${held.holder} (pid ${held.pid})` : ""}`);
  await runner.exec(`cat > ${quote(LOCK_FILE)}`, { sudo: true, stdin: body, label: "take over the cluster lock" });
}

export async function releaseLock(runner: Runner, me: LockInfo): Promise<void> {
  // Remove it only if it is still ours.
  await runner.exec(`[ "$(cat ${quote(LOCK_FILE)} 2>/dev/null)" = "$(cat)" ] && rm -f ${quote(LOCK_FILE)}; true`, {
    sudo: true,
    stdin: JSON.stringify(me),
    allowFailure: true,
    label: "release the cluster lock",
    // also after an interrupt, and never cut off by it
    afterInterrupt: true,
  });
}
