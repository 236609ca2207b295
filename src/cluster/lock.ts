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

/** Ends the lock's own output when a read-only script rides along (acquireLock's `then`). */
const THEN_MARK = "@@kubesmith-lock-then";

/**
 * Take the lock. `then`: a read-only script (as root) run in the same round trip after the lock's
 * part, whatever it found (facts of the host, phases/hosts.ts); its stdout is returned. secretAfter:
 * its output's secret part's marker (ExecOptions.secretStdoutAfter).
 */
export async function acquireLock(
  runner: Runner,
  me: LockInfo,
  opts: { force?: boolean; warn: (m: string) => void; then?: { script: string; secretAfter?: string } },
): Promise<string | undefined> {
  const body = JSON.stringify(me);
  const command = opts.then ? `${CREATE}\nprintf '\\n%s\\n' '${THEN_MARK}'\n(\n${opts.then.script}\n) </dev/null` : CREATE;
  const r = await runner.exec(command, {
    sudo: true,
    stdin: body,
    label: "take the cluster lock",
    ...(opts.then?.secretAfter !== undefined ? { secretStdoutAfter: opts.then.secretAfter } : {}),
  });
  let then: string | undefined;
  const at = opts.then ? r.stdout.indexOf(`\n${THEN_MARK}\n`) : -1;
  if (at >= 0) {
    then = r.stdout.slice(at + THEN_MARK.length + 2);
    r.stdout = r.stdout.slice(0, at);
  }
  if (r.stdout.trim() === "ACQUIRED") return then;
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
  return then;
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
