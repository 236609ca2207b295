// Whole-process startup figures for `npm run bench`: each command is spawned N times under /usr/bin/time and
// we keep the median wall time and the median peak RSS, next to `node -e 0` measured in the same run (the
// machine may be busy; the ratio is the figure that travels). The CLI is started as a user starts it, by its
// #! line (which passes Node flags). Needs no root and no lab.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchRow } from "./bench-profile.js";

export interface StartupFigure {
  label: string;
  /** Median wall time, ms (measured around the spawn). */
  wallMs: number;
  /** Median peak RSS, MiB (/usr/bin/time %M). */
  rssMiB: number;
}

const TIME = "/usr/bin/time";
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cliJs = join(root, "dist", "cli.js");

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One spawn: wall ms and peak RSS KiB (0 when /usr/bin/time is missing). */
function once(argv: string[]): Promise<{ ms: number; rssKiB: number; code: number | null }> {
  const timed = existsSync(TIME);
  const [cmd, args] = timed ? [TIME, ["-f", "%e %M", ...argv]] : [argv[0]!, argv.slice(1)];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = performance.now() - t0;
      const last = err.trim().split("\n").pop() ?? "";
      const m = /^([\d.]+) (\d+)$/.exec(last);
      resolve({ ms, rssKiB: m ? Number(m[2]) : 0, code });
    });
  });
}

/** Runs each case `runs` times, interleaved (so a burst of load hits every case alike). */
export async function measureStartup(runs = 15): Promise<StartupFigure[]> {
  const node = process.execPath;
  const cases: [string, string[]][] = [
    ["node -e 0", [node, "-e", "0"]],
    ["kubesmith --version", [cliJs, "--version"]],
    ["kubesmith --help", [cliJs, "--help"]],
    ["kubesmith completion bash", [cliJs, "completion", "bash"]],
    ["kubesmith inventory validate -i inventories/example.yaml", [cliJs, "inventory", "validate", "-i", "inventories/example.yaml"]],
  ];
  const samples = cases.map(() => ({ ms: [] as number[], rss: [] as number[] }));
  for (const [, argv] of cases) await once(argv); // warm the file cache
  for (let i = 0; i < runs; i++) {
    for (const [k, [label, argv]] of cases.entries()) {
      const r = await once(argv);
      if (r.code !== 0) throw new Error(`${label} exited ${r.code}`);
      samples[k]!.ms.push(r.ms);
      samples[k]!.rss.push(r.rssKiB / 1024);
    }
  }
  return cases.map(([label], k) => ({ label, wallMs: median(samples[k]!.ms), rssMiB: median(samples[k]!.rss) }));
}

const GOALS: Record<string, string> = {
  "kubesmith --version": "≤ 150 ms, ≤ 60 MiB",
  "kubesmith --help": "≤ 150 ms, ≤ 60 MiB",
  "kubesmith completion bash": "≤ 150 ms, ≤ 60 MiB",
  "kubesmith inventory validate -i inventories/example.yaml": "≤ 300 ms",
};

/** Bench table rows: median wall and peak RSS, against `node -e 0` of the same run. */
export function startupBenchRows(figs: StartupFigure[], runs: number): BenchRow[] {
  const base = figs.find((f) => f.label === "node -e 0")!;
  return figs
    .filter((f) => f !== base)
    .map((f) => ({
      what: `startup: ${f.label}`,
      figure: `${f.wallMs.toFixed(0)} ms, ${f.rssMiB.toFixed(0)} MiB`,
      floor: `node -e 0: ${base.wallMs.toFixed(0)} ms, ${base.rssMiB.toFixed(0)} MiB (median of ${runs})`,
      ratio: f.wallMs / base.wallMs,
      goal: GOALS[f.label] ?? "",
    }));
}

/** Table rows: median wall and peak RSS, with the ratio to `node -e 0` of the same run. */
export function startupRows(figs: StartupFigure[], runs: number): [string, string][] {
  const base = figs.find((f) => f.label === "node -e 0")!;
  return figs.map((f) => {
    const ratio = f === base ? "" : `  (${(f.wallMs / base.wallMs).toFixed(1)}× node -e 0)`;
    return [`startup, median of ${runs}: ${f.label}`, `${f.wallMs.toFixed(0)} ms, ${f.rssMiB.toFixed(0)} MiB${ratio}`];
  });
}

// `node dist/bench-startup.js [runs]`: the startup part alone.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const runs = Number(process.argv[2] ?? 15);
  const rows = startupRows(await measureStartup(runs), runs);
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${v}\n`);
}
