// Processes by PID, never by name. A zombie counts as exited (PID 1 here reaps slowly).
import { readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import type { ProcRef } from "./types.js";

interface ProcStat {
  state: string;
  start: number;
}

export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // comm may hold spaces and parentheses: the fields start after the last ')'.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
  return { state: rest[0] ?? "?", start: Number(rest[19] ?? 0) };
}

/** Alive = exists, not a zombie (or dead), and (when given) the same start time. */
export function isAlive(pid: number, start?: number): boolean {
  const st = procStat(pid);
  if (!st || st.state === "Z" || st.state === "X") return false;
  return start === undefined || st.start === start;
}

export function procRef(pid: number, what: string): ProcRef {
  return { pid, start: procStat(pid)?.start ?? 0, what };
}

export function refAlive(ref: ProcRef): boolean {
  return isAlive(ref.pid, ref.start || undefined);
}

/** Inode of a network namespace file (/run/netns/NAME), or undefined when it is gone. */
export function netnsInode(name: string): number | undefined {
  try {
    return statSync(`/run/netns/${name}`).ino;
  } catch {
    return undefined;
  }
}

/** Every live process whose network namespace is one of `inodes` (one scan of /proc). */
export function pidsInNetns(inodes: Set<number>): number[] {
  if (inodes.size === 0) return [];
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let link: string;
    try {
      link = readlinkSync(`/proc/${entry}/ns/net`);
    } catch {
      continue;
    }
    const m = /^net:\[(\d+)\]$/.exec(link);
    if (m && inodes.has(Number(m[1])) && isAlive(Number(entry))) out.push(Number(entry));
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Send `signal` to each PID, then wait until all are gone or zombies; escalate to SIGKILL after
 * `graceMs`. Returns the PIDs still alive at the end (normally none).
 */
export async function killAndWait(
  pids: { pid: number; start?: number }[],
  signal: NodeJS.Signals = "SIGTERM",
  graceMs = 2000,
): Promise<number[]> {
  const signalAll = (sig: NodeJS.Signals) => {
    for (const p of pids) {
      if (!isAlive(p.pid, p.start)) continue;
      try {
        process.kill(p.pid, sig);
      } catch {
        /* gone */
      }
    }
  };
  signalAll(signal);
  const t0 = Date.now();
  let escalated = signal === "SIGKILL";
  for (;;) {
    const left = pids.filter((p) => isAlive(p.pid, p.start));
    if (left.length === 0) return [];
    const waited = Date.now() - t0;
    if (!escalated && waited > graceMs) {
      signalAll("SIGKILL");
      escalated = true;
    }
    if (waited > graceMs + 5000) return left.map((p) => p.pid);
    await sleep(20);
  }
}
