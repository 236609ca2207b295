// `kubesmith init`: write a commented inventory. On a terminal it asks (src/wizard/questions.ts); with
// --answers FILE and/or flags it never prompts without a terminal, and a missing answer fails naming the
// flag (on a terminal the wizard asks what they leave open). Either way
// it connects to every host (unless --no-probe), records host keys, checks the result with the real
// inventory loader and writes the file atomically, never over an existing file without asking.
// This is the command's definition; the work is in init-run.ts, loaded when the command runs.
import type { Command } from "commander";
import type { CliIo } from "../cli/main.js";
import { KUBERNETES } from "../versions.js";
import type { InitFlags } from "../wizard/answers.js";

export interface InitOptions extends InitFlags {
  output: string;
  answers?: string;
  force?: boolean;
  probe: boolean;
  up?: boolean;
  connectTimeout?: string;
  plain?: boolean;
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

export function registerInitCommand(program: Command, io: CliIo): void {
  program
    .command("init")
    .description("write a commented inventory: asks on a terminal (what flags answer is shown, not asked); in scripts takes --answers FILE and flags and never prompts")
    .option("-o, --output <file>", "inventory file to write", "inventory.yaml")
    .option("--answers <file>", "answers file (YAML: name, kubernetesVersion, ssh, hosts, controlPlaneEndpoint, edgeVIP, podCIDR, serviceCIDR, addons; example: inventories/answers.example.yaml); complete, init never prompts; on a terminal, what it lacks is asked (Ctrl-C keeps answers in OUTPUT.answers.yaml)")
    .option("--force", "overwrite an existing inventory file without asking")
    .option("--name <name>", "cluster name")
    .option("--kubernetes-version <minor>", `Kubernetes minor version, ${KUBERNETES.supported.join(" or ")} (default ${KUBERNETES.default})`)
    .option("--host <spec>", "a host as NAME=ADDRESS[:PORT]:ROLES, roles control-plane|cp, worker, frontend joined by ','; once per host", collect)
    .option("--user <user>", "SSH user for every host (default root)")
    .option("--port <port>", "SSH port for every host (default 22)")
    .option("--identity-file <path>", "private key for every host")
    .option("--agent [socket]", "log in with the SSH agent ($SSH_AUTH_SOCK, or this socket)")
    .option("--bastion <jump>", "jump host as [user@]host[:port]")
    .option("--known-hosts <file>", "known_hosts file the inventory uses (default ~/.kubesmith/known_hosts)")
    .option("--cp-vip <vip>", "control-plane VIP as VIP[/PREFIX][@INTERFACE] (needed with several control planes)")
    .option("--lb <host:port>", "an external load balancer for the API instead of a VIP")
    .option("--edge-vip <vip>", "edge VIP on the frontend nodes as VIP[/PREFIX][@INTERFACE] (needed with keepalived-edge)")
    .option("--vip-interface <iface>", "interface carrying the VIPs (default: the one carrying the host's address)")
    .option("--pod-cidr <cidr>", "pod network (default 10.244.0.0/16)")
    .option("--service-cidr <cidr>", "service network (default 10.96.0.0/12)")
    .option("--addons <list>", "add-ons, comma-separated, or none: prometheus, grafana, traefik, filebeat, keepalived-edge, hello (default: the bundles on by default that fit the hosts)")
    .option("--set <addon.key=value>", "an add-on's main value, e.g. traefik.mode=hostPort; repeatable", collect)
    .option("--no-probe", "do not connect to the hosts (their keys are then trusted on first use by later commands, and no VIP is checked free by ARP)")
    .option("--connect-timeout <seconds>", "per host connection attempt while probing", "8")
    .option("--up", "run 'kubesmith up -i FILE' right after writing (without a terminal)")
    .option("--plain", "the up that --up (or yes to 'run up now?') runs prints plain lines: no spinners or colour (also when not a terminal or CI is set)")
    .action(async (opts: InitOptions) => {
      const { runInit } = await import("./init-run.js");
      await runInit(opts, io);
    });
}
