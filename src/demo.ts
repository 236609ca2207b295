// `npm run demo`: the main job against the built-in lab. Takes a bare Debian/Ubuntu machine to a running
// demo: becomes root through sudo when it is not, installs the programs the lab needs through apt-get (saying
// which first), builds a lab of simulated hosts (real sshd, real keepalived, a node simulator and a
// Kubernetes API simulator), shows the plan, runs `kubesmith up`, shows the cluster, and removes the lab
// again, also on failure or Ctrl-C. Any failing step prints its one-line error and hint.
// `npm run demo -- --keep` leaves the lab and the cluster up (`kubesmith lab down --name demo` removes them).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { main, report } from "./cli/main.js";
import { LabError } from "./errors.js";
import { labDown, labUp } from "./lab/lab.js";
import { findProgram, setupMachine } from "./lab/requirements.js";

const NAME = "demo";
const keep = process.argv.includes("--keep");
const inventory = join("inventories", "lab.yaml");
const io = { stdout: (s: string) => void process.stdout.write(s), stderr: (s: string) => void process.stderr.write(s) };

async function step(title: string, argv: string[]): Promise<void> {
  process.stdout.write(`\n== kubesmith ${argv.join(" ")}    (${title})\n`);
  const code = await main(argv, io);
  if (code !== 0) throw new StepFailed(argv[0]!, code);
}

class StepFailed extends Error {
  constructor(
    step: string,
    readonly exitCode: number,
  ) {
    super(`kubesmith ${step} exited with ${exitCode}`);
  }
}

/** Not root: run this same demo again under sudo (asks for a password on a terminal). */
function asRoot(): number | undefined {
  if (process.platform !== "linux" || process.getuid?.() === 0) return undefined;
  const sudo = findProgram("sudo");
  if (!sudo) throw new LabError("the demo needs root (Linux network namespaces), and sudo is not installed", { hint: "run it as root: npm run demo" });
  process.stdout.write("== the lab needs root: running the demo again with sudo\n");
  const r = spawnSync(sudo, ["--preserve-env=PATH,CI,NO_COLOR", process.execPath, ...process.argv.slice(1)], { stdio: "inherit" });
  return r.status ?? 1;
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
    const code = asRoot();
    if (code !== undefined) return code;
    process.stdout.write("== checking this machine for what the lab needs (kubesmith lab setup)\n");
    setupMachine({ needs: ["lab"], log: (l) => process.stdout.write(`   ${l}\n`) });
    process.stdout.write(`== building a lab of 4 simulated hosts (kubesmith lab up --name ${NAME} --layout 1cp,2w,1fe)\n`);
    const t0 = performance.now();
    // labUp removes what it built when it fails midway, and must not remove a lab it did not make.
    const state = await labUp({ name: NAME, layout: "1cp,2w,1fe", inventoryOut: inventory });
    up = true;
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
    // A failed kubesmith step has printed its own line already; anything else (lab, setup) is reported here.
    if (err instanceof StepFailed) return err.exitCode;
    return report(err, io, process.argv.includes("--debug"));
  } finally {
    await cleanup();
  }
}

process.exitCode = await demo();
