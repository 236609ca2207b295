// `kubesmith lab up|down|status`: simulated hosts on this machine (root, Linux). Thin: flags -> src/lab.
import { formatOutput, outputOption, type OutputFormat } from "../ui/output.js";
import { Command, Option } from "commander";
import { UsageError } from "../errors.js";
import { LAB_OSES, type LabOs } from "../lab/types.js";
import type { Need } from "../lab/requirements.js";

/** lab/lab.ts's DEFAULT_LAB, here so that defining the commands does not load the lab (test/cli/startup.test.ts
 *  checks they agree). */
export const DEFAULT_LAB = "kubesmith";

/** The lab itself (namespaces, sshd, the simulators), loaded when a lab command runs. */
const loadLab = () => import("../lab/lab.js");

function parseOs(value: string): LabOs | LabOs[] {
  const list = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const o of list) {
    if (!(LAB_OSES as readonly string[]).includes(o)) {
      throw new UsageError(`--os ${o}: not one of ${LAB_OSES.join(", ")}`, { hint: "or a comma-separated list, one per host" });
    }
  }
  return list.length === 1 ? (list[0] as LabOs) : (list as LabOs[]);
}

function parseIntOpt(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} ${value}: must be a whole number from ${min} to ${max}`);
  return n;
}

export function registerLabCommands(program: Command): void {
  const lab = program
    .command("lab")
    .description("Simulated hosts on this machine (network namespaces, real sshd, a node simulator); needs root");

  lab
    .command("setup")
    .description("Install, through apt-get, the programs the lab needs (sshd, keepalived, nft …); says what first; needs root")
    .option("--tests", "also what the test suite calls (promtool, tmux, chromium, kubectl)", false)
    .option("--dry-run", "only say what would be installed", false)
    .action(async (o: { tests: boolean; dryRun: boolean }) => {
      const needs: Need[] = o.tests ? ["lab", "tests"] : ["lab"];
      // loaded here: node:child_process alone costs every other command ≈ 8 ms of startup (issue 12)
      const { setupMachine } = await import("../lab/requirements.js");
      setupMachine({ needs, dryRun: o.dryRun, log: (l) => process.stdout.write(`${l}\n`) });
    });

  lab
    .command("up")
    .description("Create a lab of N hosts and write its inventory and known_hosts")
    .option("--hosts <n>", "number of hosts (1-244); may be left out with --layout")
    .addOption(new Option("--os <os>", `${LAB_OSES.join("|")}, or a comma-separated list, one per host`).default("debian-12"))
    .option("--name <name>", "lab name", DEFAULT_LAB)
    .option("--layout <counts>", "roles by count, e.g. 3cp,3w,2fe (control planes, workers, frontends)")
    .addOption(new Option("--network <kind>", "bridge: eth0 on the lab bridge; vagrant: eth0 the same NAT address on every host (default route), eth1 the private network").choices(["bridge", "vagrant"]).default("bridge"))
    .option("--subnet <n>", "use 198.18.N.0/24 (default: derived from the name)")
    .option("--faults <file>", "YAML/JSON list of faults: {host, command, delayMs, fail, exitCode, hang, transient (lock, dns, 503, reset), times}")
    .option("--inventory-out <file>", "where to write the inventory", "inventories/lab.yaml")
    .action(async (o: { hosts?: string; os: string; name: string; layout?: string; network: "bridge" | "vagrant"; subnet?: string; faults?: string; inventoryOut: string }) => {
      const hosts = parseIntOpt("--hosts", o.hosts, 1, 244);
      if (hosts === undefined && !o.layout) throw new UsageError("lab up needs --hosts N (or --layout)", { hint: "e.g. kubesmith lab up --hosts 3" });
      const { labUp } = await loadLab();
      const state = await labUp({
        name: o.name,
        ...(hosts !== undefined ? { hosts } : {}),
        os: parseOs(o.os),
        ...(o.layout ? { layout: o.layout } : {}),
        network: o.network,
        ...(o.subnet !== undefined ? { subnet: parseIntOpt("--subnet", o.subnet, 0, 255)! } : {}),
        ...(o.faults ? { faultsFile: o.faults } : {}),
        inventoryOut: o.inventoryOut,
        log: (l) => process.stderr.write(`${l}\n`),
      });
      process.stdout.write(
        `lab ${state.name} is up: ${state.hosts.length} host(s) on 198.18.${state.subnet}.0/24\n` +
          `  inventory:   ${state.inventoryPath}\n  ssh key:     ${state.keyFile}\n  known_hosts: ${state.knownHostsFile}\n` +
          `  try:         ssh -i ${state.keyFile} -o UserKnownHostsFile=${state.knownHostsFile} root@${state.hosts[0]?.address}\n`,
      );
    });

  lab
    .command("down")
    .description("Remove a lab: its processes, namespaces, links, mounts and state")
    .option("--name <name>", "lab name", DEFAULT_LAB)
    .action(async (o: { name: string }) => {
      const { labDown } = await loadLab();
      await labDown(o.name, (l) => process.stdout.write(`${l}\n`));
    });

  lab
    .command("status")
    .description("Show a lab's hosts and whether their namespaces and sshd are alive")
    .option("--name <name>", "lab name", DEFAULT_LAB)
    .addOption(outputOption())
    .action(async (o: { name: string; output: OutputFormat }) => {
      const { labStatus } = await loadLab();
      const st = await labStatus(o.name);
      if (o.output !== "table") {
        process.stdout.write(await formatOutput(o.output, st, () => ""));
        return;
      }
      if (!st.exists) {
        process.stdout.write(`lab ${o.name} is not up\n`);
        return;
      }
      process.stdout.write(`lab ${st.name}: ${st.phase}, ${st.subnet ?? "no subnet yet"}\n`);
      const rows = [
        ["HOST", "ADDRESS", "OS", "ROLES", "NAMESPACE", "NETNS", "SSHD"],
        ...st.hosts.map((h) => [
          h.name,
          h.address,
          h.os,
          h.roles.join(","),
          h.namespace,
          h.namespaceAlive ? "alive" : "gone",
          h.sshdPid === undefined ? "-" : `${h.sshdPid} ${h.sshdAlive ? "alive" : "dead"}`,
        ]),
      ];
      const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
      for (const r of rows) process.stdout.write(`${r.map((cell, c) => cell.padEnd(widths[c]!)).join("  ").trimEnd()}\n`);
    });
}
