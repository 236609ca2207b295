// The default number of hosts worked on at once: every host, bounded by the open-files limit (one
// descriptor per connection, a reserve kept) and by available memory, read from /proc texts.
import { describe, expect, it } from "vitest";
import { parseConcurrency } from "../../src/commands/check.js";
import { FD_RESERVE, MAX_CONCURRENCY, availableMiB, concurrencyBound, defaultConcurrency, openFilesLimit } from "../../src/ssh/limits.js";

const limits = (soft: string, hard = soft) => `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max open files            ${soft.padEnd(20)} ${hard.padEnd(20)} files     
Max locked memory         8388608              8388608              bytes     
`;
const meminfo = (kib: number) => `MemTotal:       24567890 kB\nMemFree:         1234567 kB\nMemAvailable:   ${kib} kB\nBuffers:          123456 kB\n`;

describe("the default concurrency", () => {
  it("reads the soft open-files limit and MemAvailable", () => {
    expect(openFilesLimit(limits("1024", "524288"))).toBe(1024);
    expect(openFilesLimit(limits("unlimited"))).toBeUndefined();
    expect(availableMiB(meminfo(2 * 1024 * 1024))).toBe(2048);
    expect(availableMiB("MemTotal: 1 kB\n")).toBeUndefined();
  });

  it("is bounded by open files: one descriptor per host, a reserve kept", () => {
    expect(concurrencyBound(limits("256"), meminfo(16 * 1024 * 1024))).toEqual({ hosts: 256 - FD_RESERVE, by: "open files" });
    expect(concurrencyBound(limits("100"), meminfo(16 * 1024 * 1024))).toEqual({ hosts: 1, by: "open files" });
  });

  it("is bounded by memory: 1 MiB per host from half of what is available", () => {
    expect(concurrencyBound(limits("65536"), meminfo(600 * 1024))).toEqual({ hosts: 300, by: "memory" });
  });

  it("is at most what --concurrency accepts; an unknown bound is not applied", () => {
    expect(concurrencyBound(limits("1048576"), meminfo(64 * 1024 * 1024))).toEqual({ hosts: MAX_CONCURRENCY, by: "maximum" });
    expect(concurrencyBound(undefined, undefined).hosts).toBe(MAX_CONCURRENCY);
    expect(concurrencyBound(limits("unlimited"), meminfo(600 * 1024)).hosts).toBe(300);
  });

  it("-c left out means this process's bound; -c N still decides", () => {
    expect(parseConcurrency(undefined)).toBe(defaultConcurrency().hosts);
    expect(defaultConcurrency().hosts).toBeGreaterThan(64); // this machine: 20000 open files, GiBs free
    expect(parseConcurrency("7")).toBe(7);
    expect(() => parseConcurrency("0")).toThrow(/--concurrency must be a whole number from 1 to 1024/);
  });
});
