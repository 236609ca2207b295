// `kubesmith logs` over run directories laid out as openContext writes them.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { listRuns } from "../../src/commands/logs-run.js";
import { cli, tinyInventory } from "./helpers.js";

let inv: { dir: string; file: string };
let state: string;
const RUNS = ["2026-01-10T10-00-00-000Z-up", "2026-01-10T11-30-00-000Z-down", "2026-01-10T12-00-00-000Z-up"];

beforeAll(() => {
  inv = tinyInventory("logsdemo");
  state = join(inv.dir, "state");
  RUNS.forEach((id, i) => {
    const d = join(state, "logsdemo", "runs", id);
    mkdirSync(join(d, "hosts"), { recursive: true });
    const ok = i !== 2;
    const ev = [
      { at: "2026-01-10T10:00:00.000Z", kind: "run-start", command: id.endsWith("up") ? "up" : "down", cluster: "logsdemo", dryRun: false, runDir: d },
      ...(i === 1 ? [] : [{ at: "2026-01-10T10:00:05.000Z", kind: "run-end", ok, durationMs: 5000 + i, changes: 1 }]),
    ];
    if (i !== 1) writeFileSync(join(d, "events.jsonl"), ev.map((e) => JSON.stringify(e)).join("\n") + "\n");
    writeFileSync(join(d, "hosts", "cp1.log"), `run ${i} cp1: kubeadm init\n`);
    writeFileSync(join(d, "hosts", "w1.log"), `run ${i} w1: kubeadm join\n`);
  });
});

const args = (...a: string[]) => [...a, "-i", inv.file, "--state-dir", state];

describe("kubesmith logs", () => {
  it("lists runs oldest first with command and result", async () => {
    const r = await cli(args("logs"));
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^RUN\s+COMMAND\s+RESULT\s+TOOK\s+HOSTS$/);
    expect(lines[1]).toMatch(/^2026-01-10T10-00-00-000Z-up\s+up\s+ok\s+5\.0 s\s+2$/);
    expect(lines[2]).toMatch(/-down\s+down\s+-\s+-\s+2$/);
    expect(lines[3]).toMatch(/-up\s+up\s+failed\s+5\.0 s\s+2$/);
    expect(listRuns(state, "logsdemo").map((x) => x.startedAt)[1]).toBe("2026-01-10T11:30:00.000Z");
  });

  it("--host prints that host's log of the latest run; --run picks a run by id or unique prefix", async () => {
    expect((await cli(args("logs", "--host", "w1"))).stdout).toBe("run 2 w1: kubeadm join\n");
    expect((await cli(args("logs", "--host", "cp1", "--run", RUNS[0]!))).stdout).toBe("run 0 cp1: kubeadm init\n");
    expect((await cli(args("logs", "--host", "cp1", "--run", "2026-01-10T11"))).stdout).toBe("run 1 cp1: kubeadm init\n");
  });

  it("--run without --host prints every host's log with a header", async () => {
    const r = await cli(args("logs", "--run", "latest"));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^==> cp1 \(.*cp1\.log\) <==\nrun 2 cp1: kubeadm init\n==> w1 \(.*w1\.log\) <==\nrun 2 w1: kubeadm join\n$/);
  });

  it("an unknown host or run is one line naming what exists, exit code 2", async () => {
    const h = await cli(args("logs", "--host", "nope"));
    expect(h.code).toBe(2);
    expect(h.stderr).toBe(`kubesmith: no log for host 'nope' in run ${RUNS[2]} (hosts with logs: cp1, w1)\n`);
    const r = await cli(args("logs", "--run", "2025"));
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/no run '2025' for cluster logsdemo \(the latest are .*-up, .*-down, .*-up/);
    const amb = await cli(args("logs", "--run", "2026-01-10T1"));
    expect(amb.stderr).toMatch(/matches 3 runs/);
  });

  it("a cluster without runs says so", async () => {
    const r = await cli(["logs", "-i", inv.file, "--state-dir", join(inv.dir, "empty")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kubesmith: no runs recorded for cluster logsdemo/);
  });
});
