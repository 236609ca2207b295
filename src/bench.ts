// `npm run bench` (root): prints the figures we track. Nothing here asserts on time.
//   lab up / down of 50 hosts; kubesmith check across 50 hosts (connect + facts + preflight);
//   10 commands on each of 50 hosts over one ssh2 connection per host.
import { dirname } from "node:path";
import { main } from "./cli/main.js";
import { loadInventory } from "./inventory/load.js";
import { labDown, labUp } from "./lab/lab.js";
import { SshPool } from "./ssh/pool.js";
import { targetsFromInventory } from "./ssh/targets.js";

const HOSTS = Number(process.env.BENCH_HOSTS ?? 50);
const NAME = "bench";
const inv = "/tmp/kubesmith-bench-lab.yaml";
const rows: [string, string][] = [];
const time = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const r = await fn();
  rows.push([label, `${((performance.now() - t0) / 1000).toFixed(2)} s`]);
  return r;
};
const silent = { stdout: () => {}, stderr: (s: string) => process.stderr.write(s) };

try {
  await time(`lab up, ${HOSTS} hosts`, () => labUp({ name: NAME, hosts: HOSTS, inventoryOut: inv }));
  const code = await time(`kubesmith check, ${HOSTS} hosts`, () => main(["check", "-i", inv, "--state-dir", "/tmp/kubesmith-bench-state"], silent));
  if (code !== 0) rows.push(["check exit code", String(code)]);
  const loaded = await loadInventory(inv);
  const targets = targetsFromInventory(loaded.inventory, { baseDir: dirname(loaded.file) });
  const pool = new SshPool({ concurrency: 64 });
  await time(`connect to ${HOSTS} hosts (ssh2, parallel)`, () => pool.forEachHost(targets, async () => undefined));
  await time(`10 commands on each of ${HOSTS} hosts (connections open)`, () =>
    pool.forEachHost(targets, async (r) => {
      for (let i = 0; i < 10; i++) await r.exec("true");
    }),
  );
  await pool.closeAll();
  const rss = process.memoryUsage().rss;
  rows.push(["kubesmith process RSS after the run", `${(rss / 1024 / 1024).toFixed(0)} MiB`]);
} finally {
  await time(`lab down, ${HOSTS} hosts`, () => labDown(NAME));
}
const w = Math.max(...rows.map((r) => r[0].length));
for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${v}\n`);
