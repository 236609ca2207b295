// `sudo npm run demo`: the main job against the built-in lab. Builds a lab of simulated hosts, runs
// `kubesmith check` against it (until `up` exists), and removes the lab again, also on failure or Ctrl-C.
// `npm run demo -- --keep` leaves the lab up for exploring (`kubesmith lab down --name demo` removes it).
import { join } from "node:path";
import { main } from "./cli/main.js";
import { labDown, labUp } from "./lab/lab.js";
import { report } from "./cli/main.js";

const NAME = "demo";
const keep = process.argv.includes("--keep");
const inventory = join("inventories", "lab.yaml");
const io = { stdout: (s: string) => process.stdout.write(s), stderr: (s: string) => process.stderr.write(s) };

async function demo(): Promise<number> {
  let up = false;
  const cleanup = async () => {
    if (up && !keep) {
      process.stdout.write(`\n== removing the lab (kubesmith lab down --name ${NAME})\n`);
      await labDown(NAME);
      up = false;
    }
  };
  process.once("SIGINT", () => void cleanup().finally(() => process.exit(130)));
  try {
    process.stdout.write(`== building a lab of 5 simulated hosts (kubesmith lab up --name ${NAME} --layout 1cp,3w,1fe)\n`);
    const t0 = performance.now();
    up = true;
    const state = await labUp({ name: NAME, layout: "1cp,3w,1fe", inventoryOut: inventory });
    process.stdout.write(`   ${state.hosts.length} hosts up in ${((performance.now() - t0) / 1000).toFixed(2)} s; inventory: ${inventory}\n\n`);
    process.stdout.write(`== kubesmith check -i ${inventory}\n`);
    const t1 = performance.now();
    const code = await main(["check", "-i", inventory], io);
    process.stdout.write(`\n   check finished in ${((performance.now() - t1) / 1000).toFixed(2)} s with exit code ${code}\n`);
    if (keep) process.stdout.write(`\nThe lab is still up. Try: kubesmith lab status --name ${NAME}; remove it with: kubesmith lab down --name ${NAME}\n`);
    return code;
  } catch (err) {
    return report(err, io, process.argv.includes("--debug"));
  } finally {
    await cleanup();
  }
}

process.exitCode = await demo();
