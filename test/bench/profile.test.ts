// The bench's computations (src/bench-profile.ts): critical path and round trips from a run's events, the
// realistic profile as lab faults, and the printed table. The bench itself is not part of the test suite.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { benchTable, criticalPath, type DurationProfile, parseEvents, profileFaults } from "../../src/bench-profile.js";
import { matchFault } from "../../src/lab/faults.js";
import { packageRoot } from "../../src/util/pkg.js";

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
const cmd = (end: number, host: string, durationMs: number) => JSON.stringify({ at: at(end), kind: "command", host, command: "x", code: 0, durationMs });

// A run of 10 s: a lock command outside phases, a phase where host a works 3 s in two overlapping commands
// and host b 2 s in three, then a phase with no remote command (API waits), then a second host phase.
const run = [
  JSON.stringify({ at: at(0), kind: "run-start", command: "up", cluster: "c", dryRun: false, runDir: "/r" }),
  cmd(100, "a", 100),
  JSON.stringify({ at: at(200), kind: "phase-start", phase: "prepare" }),
  cmd(2200, "a", 2000), // 200-2200
  cmd(3200, "a", 1500), // 1700-3200: overlaps; union for a = 200-3200 = 3000
  cmd(900, "b", 500),
  cmd(1900, "b", 1000),
  cmd(2900, "b", 500),
  "not json: a stray line",
  JSON.stringify({ at: at(4200), kind: "phase-end", phase: "prepare", ok: true, durationMs: 4000 }),
  JSON.stringify({ at: at(4200), kind: "phase-start", phase: "wait for nodes" }),
  JSON.stringify({ at: at(6200), kind: "phase-end", phase: "wait for nodes", ok: true, durationMs: 2000 }),
  JSON.stringify({ at: at(6200), kind: "phase-start", phase: "join" }),
  cmd(9000, "b", 2500),
  JSON.stringify({ at: at(9500), kind: "phase-end", phase: "join", ok: true, durationMs: 3300 }),
  JSON.stringify({ at: at(10000), kind: "run-end", ok: true, durationMs: 10000, changes: 0 }),
].join("\n");

describe("criticalPath", () => {
  const cp = criticalPath(parseEvents(run));

  it("sums each phase's busiest host (overlaps counted once), phases without commands in full", () => {
    expect(cp.wallMs).toBe(10000);
    expect(cp.phases.map((p) => [p.phase, p.criticalMs, p.roundTrips, p.host])).toEqual([
      ["prepare", 3000, 3, "a"],
      ["wait for nodes", 2000, 0, undefined],
      ["join", 2500, 1, "b"],
      ["(outside phases)", 100, 1, "a"],
    ]);
    expect(cp.criticalMs).toBe(3000 + 2000 + 2500 + 100);
  });

  it("round trips on the critical path: per phase, the most commands one host ran", () => {
    expect(cp.roundTrips).toBe(3 + 0 + 1 + 1);
    expect(cp.maxCommandsPerHost).toBe(4); // b: 3 in prepare + 1 in join
  });

  it("the time outside phases is the wall not covered by them", () => {
    expect(cp.phases.find((p) => p.phase === "(outside phases)")!.wallMs).toBe(10000 - 4000 - 2000 - 3300);
  });
});

describe("the realistic profile", () => {
  const file = join(packageRoot(), "src", "lab", "profiles", "realistic.json");
  const profile = JSON.parse(readFileSync(file, "utf8")) as DurationProfile;
  const faults = profileFaults(profile, file);

  it("is a list of delays the lab accepts as faults, each with a reason", () => {
    expect(faults.length).toBe(profile.delays.length);
    expect(faults.every((f) => f.delayMs! > 0 && f.fail === undefined && f.hang === undefined)).toBe(true);
    expect(profile.delays.every((d) => d.why.length > 0)).toBe(true);
  });

  it("gives kubeadm init tens of seconds, a package install seconds, and leaves quick probes alone", () => {
    const delay = (argv: string) => matchFault(faults, "lab-1", argv.split(" "))?.delayMs ?? 0;
    expect(delay("kubeadm init --config /var/lib/kubesmith/kubeadm-init.yaml --upload-certs")).toBeGreaterThanOrEqual(10_000);
    expect(delay("apt-get install -y -q containerd.io=2.*")).toBeGreaterThanOrEqual(1_000);
    expect(delay("systemctl restart containerd")).toBe(1000);
    expect(delay("systemctl is-active --quiet containerd")).toBe(0);
    expect(delay("dpkg-query -W kubeadm")).toBe(0);
  });

  it("a malformed profile is refused with the file named", () => {
    expect(() => profileFaults({ description: "", delays: [{ command: "x", delayMs: -1, why: "" }] }, "p.json")).toThrow(/p\.json: faults\[0\]\.delayMs/);
  });
});

describe("benchTable", () => {
  it("prints a Markdown table with the ratio to the floor", () => {
    const t = benchTable([
      { what: "zero-cost up, 8 hosts", figure: "3.00 s", floor: "2.00 s", ratio: 1.5, goal: "≤ 1.5×" },
      { what: "lab up", figure: "1.00 s" },
    ]);
    const lines = t.trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^\| what +\| figure +\| floor or anchor \| ratio +\| goal +\|$/);
    expect(lines[2]).toContain("| 1.50× |");
    expect(lines[3]).toMatch(/^\| lab up +\| 1\.00 s \| +\| +\| +\|$/);
  });
});

describe("bench rows from a run's figures", () => {
  it("a failed run's row names its error lines, not the pointer to its logs", async () => {
    const { failureLines } = await import("../../src/bench-run.js");
    const stderr = "progress\nkubesmith: lab-7: join the workers: kubeadm join exited 1\nkubesmith: the whole output: kubesmith logs -i x --state-dir y\nCommand exited with non-zero status 7\n";
    expect(failureLines(stderr)).toBe("kubesmith: lab-7: join the workers: kubeadm join exited 1");
    expect(failureLines("a\nb\nc\nd")).toBe("b / c / d");
  });

  it("the wall time the lab's own CPU allows: (machine − kubesmith) ÷ CPUs, and the run's wall against it", async () => {
    const { labBoundRow } = await import("../../src/bench-run.js");
    expect(labBoundRow({ cpuMs: 2_000, machineCpuMs: 32_000, wallMs: 18_000 }, 50, 2)).toEqual([
      { what: "  the lab's own CPU ÷ 2 CPUs, 50 hosts", figure: "15.00 s", floor: "wall 18.00 s", ratio: 1.2 },
    ]);
    // no figure without both CPU readings
    expect(labBoundRow({ cpuMs: 0, machineCpuMs: 32_000, wallMs: 18_000 }, 50, 2)).toEqual([]);
    expect(labBoundRow({ cpuMs: 2_000, machineCpuMs: 0, wallMs: 18_000 }, 50, 2)).toEqual([]);
  });
});
