// How many hosts a run works on at once by default: every host, up to what this process can hold open.
// A connection to a host is one ssh2 client on one TCP socket: 1 file descriptor, and about 0.1 MiB of
// RSS in this process once connected and used (measured 2026-11-30 with 100 and 200 connections to lab
// hosts: 1 fd each, 0.06-0.10 MiB RSS and 0.015-0.02 MiB of heap each; docs/performance.md). The bounds
// keep a reserve of descriptors for everything else (stdio, logs, the journal, API connections, the
// event loop) and budget 1 MiB per host (the connection plus the run's per-host logs and outputs) from
// half of the memory the kernel says is available. Node cannot call getrlimit: /proc/self/limits is read.
import { readFileSync } from "node:fs";

/** Descriptors kept for everything but the host connections. */
export const FD_RESERVE = 128;
/** Descriptors one host connection takes (its TCP socket; channels and SFTP ride on it). */
export const FDS_PER_CONNECTION = 1;
/** Memory budgeted per host worked on at once (a connection is ≈ 0.1 MiB; the rest is the run's per-host data). */
export const MIB_PER_HOST = 1;
/** What --concurrency accepts at most (commands/check.ts). */
export const MAX_CONCURRENCY = 1024;

/** The soft "Max open files" limit of this process, from /proc/self/limits' text; undefined when unknown or unlimited. */
export function openFilesLimit(limits: string): number | undefined {
  const line = limits.split("\n").find((l) => l.startsWith("Max open files"));
  const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
  return soft !== undefined && /^\d+$/.test(soft) ? Number(soft) : undefined;
}

/** MemAvailable from /proc/meminfo's text, in MiB; undefined when absent. */
export function availableMiB(meminfo: string): number | undefined {
  const m = /^MemAvailable:\s+(\d+)\s+kB/m.exec(meminfo);
  return m ? Math.floor(Number(m[1]) / 1024) : undefined;
}

export interface ConcurrencyBound {
  /** Hosts worked on at once. */
  hosts: number;
  /** Which bound decided it. */
  by: "open files" | "memory" | "maximum";
}

/** The default bound from the two texts (either may be missing: that bound is then not applied). */
export function concurrencyBound(limits: string | undefined, meminfo: string | undefined): ConcurrencyBound {
  const files = limits === undefined ? undefined : openFilesLimit(limits);
  const mem = meminfo === undefined ? undefined : availableMiB(meminfo);
  const byFiles = files === undefined ? Infinity : Math.floor((files - FD_RESERVE) / FDS_PER_CONNECTION);
  const byMemory = mem === undefined ? Infinity : Math.floor(mem / 2 / MIB_PER_HOST);
  const hosts = Math.max(1, Math.min(byFiles, byMemory, MAX_CONCURRENCY));
  return { hosts, by: hosts === MAX_CONCURRENCY ? "maximum" : byFiles <= byMemory ? "open files" : "memory" };
}

const read = (p: string) => {
  try {
    return readFileSync(p, "utf8");
  } catch {
    return undefined;
  }
};

/** The default --concurrency for this process on this machine. */
export function defaultConcurrency(): ConcurrencyBound {
  return concurrencyBound(read("/proc/self/limits"), read("/proc/meminfo"));
}
