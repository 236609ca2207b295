// `sudo npm run demo`: the main job against the built-in lab. Builds a lab of simulated hosts (real sshd,
// real keepalived, a node simulator and a Kubernetes API simulator), shows the plan, runs `kubesmith up`,
// shows the cluster, and removes the lab again, also on failure or Ctrl-C.
// `npm run demo -- --keep` leaves the lab and the cluster up (`kubesmith lab down --name demo` removes them).
import { join } from "node:path";
import { main, report } from "./cli/main.js";
import { labDown, labUp } from "./lab/lab.js";

const NAME = "demo";
const keep = process.argv.includes("--keep");
const inventory = join("inventories", "lab.yaml");
const io = { stdout: (s: string) => void process.stdout.write(s), stderr: (s: string) => void process.stderr.write(s) };

async function step(title: string, argv: string[]): Promise<void> {
  process.stdout.write(`\n== kubesmith ${argv.join(" ")}    (${title})\n`);
  const code = await main(argv, io);
  if (code !== 0) throw Object.assign(new Error(`kubesmith ${argv[0]} exited with ${code}`), { exitCode: code });
}

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
    process.stdout.write(`== building a lab of 4 simulated hosts (kubesmith lab up --name ${NAME} --layout 1cp,2w,1fe)\n`);
    const t0 = performance.now();
    up = true;
    const state = await labUp({ name: NAME, layout: "1cp,2w,1fe", inventoryOut: inventory });
    process.stdout.write(`   ${state.hosts.length} hosts up in ${((performance.now() - t0) / 1000).toFixed(2)} s; inventory: ${inventory}\n`);
    await step("facts and preflight", ["check", "-i", inventory]);
    await step("what up would change; changes nothing", ["plan", "-i", inventory, "--plain"]);
    const t1 = performance.now();
    await step("the cluster", ["up", "-i", inventory]);
    process.stdout.write(`   up took ${((performance.now() - t1) / 1000).toFixed(1)} s\n`);
    await step("a second up converges: nothing to change", ["up", "-i", inventory, "--plain"]);
    await step("the cluster now", ["status", "-i", inventory]);
    if (keep) process.stdout.write(`\nThe lab is still up. Try: kubesmith status -i ${inventory}; remove it with: kubesmith lab down --name ${NAME}\n`);
    return 0;
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    return code ?? report(err, io, process.argv.includes("--debug"));
  } finally {
    await cleanup();
  }
}

process.exitCode = await demo();
