// Timed lab up/down of many hosts. Prints figures; asserts nothing. Run: node dist/lab/bench.js [hosts]
import os from "node:os";
import path from "node:path";
import { labDown, labUp, loadLabState } from "./lab.js";

const hosts = Number(process.argv[2] ?? 50);
const name = "bench";
if (loadLabState(name)) await labDown(name);
const t0 = performance.now();
const state = await labUp({ name, hosts, inventoryOut: path.join(os.tmpdir(), "kubesmith-lab-bench.yaml") });
const up = (performance.now() - t0) / 1000;
const t1 = performance.now();
await labDown(name);
const down = (performance.now() - t1) / 1000;
process.stdout.write(`lab bench: ${state.hosts.length} hosts on ${os.cpus().length} CPU(s): up ${up.toFixed(2)} s, down ${down.toFixed(2)} s\n`);
