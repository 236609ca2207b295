// `kubesmith init`: write a commented inventory. On a terminal it asks (src/wizard/questions.ts); with
// --answers FILE and/or flags it never prompts, and a missing answer fails naming the flag. Either way
// it connects to every host (unless --no-probe), records host keys, checks the result with the real
// inventory loader and writes the file atomically, never over an existing file without asking.
import { link, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import type { Command } from "commander";
import pLimit from "p-limit";
import type { CliIo } from "../cli/main.js";
import { type ExitCodeValue, KubesmithError, MultiHostError, UsageError } from "../errors.js";
import { type Answers, type AnswersInput, completeAnswers, type InitFlags, localPath, mergeFlags, parseAnswers } from "../wizard/answers.js";
import { generateInventory, validateGenerated } from "../wizard/generate.js";
import { describeFacts, probeHost, type ProbeResult } from "../wizard/probe.js";
import { askOutputPath, askOverwrite, askRunUp, canPrompt, runWizard } from "../wizard/questions.js";
import { KUBERNETES } from "../versions.js";

export interface InitOptions extends InitFlags {
  output: string;
  answers?: string;
  force?: boolean;
  probe: boolean;
  up?: boolean;
  connectTimeout?: string;
}

/** `up` (run by init) failed; it has already said why. */
class UpFailed extends KubesmithError {
  constructor(readonly exitCode: ExitCodeValue, file: string) {
    super(`'kubesmith up' failed; the inventory ${file} is written, fix the problem above and run up again`);
  }
}

/** Write text to file atomically: a temp file in the same directory, then rename (or link when the
 *  file must not be replaced, so a file created meanwhile is never overwritten). */
export async function writeFileAtomic(file: string, text: string, overwrite: boolean): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${Date.now()}.tmp`);
  await writeFile(tmp, text, { mode: 0o644, flag: "wx" });
  try {
    if (overwrite) await rename(tmp, file);
    else {
      await link(tmp, file).catch((e: NodeJS.ErrnoException) => {
        if (e.code === "EEXIST") throw new UsageError(`${file} already exists`, { hint: "pass --force to overwrite it, or -o another file" });
        throw e;
      });
    }
  } finally {
    await rm(tmp, { force: true });
  }
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

/** Probe every host without a person: accept-new for host keys, reported; failures are fatal. */
async function probeAll(input: AnswersInput, knownHostsFile: string, out: (s: string) => void, timeoutMs: number): Promise<Map<string, ProbeResult>> {
  const pre = completeAnswers(input, { probed: false, interfaceOf: () => "pending" });
  const limit = pLimit(16);
  const results = new Map<string, ProbeResult>();
  const failures: KubesmithError[] = [];
  const report = new Map<string, string[]>();
  await Promise.all(
    pre.hosts.map((h) =>
      limit(async () => {
        try {
          const r = await probeHost(h, { knownHostsFile, connectTimeoutMs: timeoutMs });
          results.set(h.address, r);
          const lines: string[] = [];
          report.set(h.address, lines);
          for (const k of r.keys) {
            lines.push(
              `${h.address}: host key ${k.type} ${k.fingerprint}${k.host === h.address ? "" : ` of ${k.name}`} ${k.outcome === "added" ? `recorded in ${knownHostsFile} (trusted on first use)` : `already in ${knownHostsFile}`}`,
            );
          }
          lines.push(`${h.address}: ${describeFacts(r.facts)}${r.iface ? `; ${r.iface.name} ${r.iface.address}/${r.iface.prefix}` : ""}`);
        } catch (e) {
          if (e instanceof KubesmithError) failures.push(e);
          else throw e;
        }
      }),
    ),
  );
  for (const h of pre.hosts) for (const l of report.get(h.address) ?? []) out(l);
  if (failures.length === 1) throw failures[0]!;
  if (failures.length > 1) throw new MultiHostError(failures);
  return results;
}

export async function runInit(opts: InitOptions, io: CliIo): Promise<void> {
  const out = (s: string) => io.stdout(`${s}\n`);
  const tty = canPrompt();
  const interactive = tty && !opts.answers;
  let input: AnswersInput = {};
  if (opts.answers) {
    let text: string;
    try {
      text = await readFile(opts.answers, "utf8");
    } catch (e) {
      throw new UsageError(`cannot read the answers file ${opts.answers}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    input = parseAnswers(text, opts.answers);
  }
  input = mergeFlags(input, opts);
  const timeoutMs = opts.connectTimeout ? Math.max(1000, Number.parseInt(opts.connectTimeout, 10) * 1000 || 8000) : 8000;

  let file = resolve(opts.output);
  let overwrite = Boolean(opts.force);
  let answers: Answers;
  let notes: Record<string, string> = {};

  if (interactive) {
    const r = await runWizard(input, { out: io.stdout, probe: opts.probe, connectTimeoutMs: timeoutMs });
    answers = r.answers;
    notes = r.notes;
    for (;;) {
      file = resolve(localPath(await askOutputPath(relative(process.cwd(), file) || opts.output)));
      if (!existsSync(file) || overwrite) break;
      if (await askOverwrite(file)) {
        overwrite = true;
        break;
      }
    }
  } else {
    // Everything that can be known without the network is checked first: a missing answer fails at once.
    completeAnswers(input, { probed: false, interfaceOf: () => "pending" });
    if (existsSync(file) && !overwrite && !tty) {
      throw new UsageError(`${file} already exists`, { hint: "pass --force to overwrite it, or -o another file" });
    }
    let probes = new Map<string, ProbeResult>();
    const khFile = localPath(input.ssh?.knownHostsFile ?? "~/.kubesmith/known_hosts");
    if (opts.probe) probes = await probeAll(input, khFile, out, timeoutMs);
    answers = completeAnswers(input, {
      probed: opts.probe,
      interfaceOf: (a) => probes.get(a)?.iface?.name,
      hostnameOf: (a) => probes.get(a)?.facts.hostname,
    });
    for (const h of answers.hosts) {
      const p = probes.get(h.address);
      if (p) notes[h.name] = `${describeFacts(p.facts)} (found by kubesmith init)`;
    }
    if (existsSync(file) && !overwrite) {
      if (!(await askOverwrite(file))) throw new UsageError(`${file} already exists and was kept`, { hint: "pass --force to overwrite it, or -o another file" });
      overwrite = true;
    }
  }

  const shown = relative(process.cwd(), file) || file;
  const text = generateInventory(answers, { notes, fileName: shown.includes(" ") ? JSON.stringify(shown) : shown });
  const loaded = validateGenerated(text, file, answers);
  await writeFileAtomic(file, text, overwrite);
  out(`wrote ${file} (${answers.hosts.length} host${answers.hosts.length === 1 ? "" : "s"}, Kubernetes ${answers.kubernetesVersion})`);
  for (const w of loaded.warnings) out(`warning: ${w.path ? `${w.path}: ` : ""}${w.message}${w.hint ? ` (${w.hint})` : ""}`);
  const upArgs = ["up", "-i", shown];
  out(`next: kubesmith ${upArgs.map((a) => (/[\s'"$]/.test(a) ? `'${a.replace(/'/g, "'\\''")}'` : a)).join(" ")}`);

  const runUp = interactive ? await askRunUp(`kubesmith up -i ${shown}`) : Boolean(opts.up);
  if (runUp) {
    const { main } = await import("../cli/main.js");
    const code = await main(["up", "-i", file], io);
    if (code !== 0) throw new UpFailed(code as ExitCodeValue, file);
  }
}

export function registerInitCommand(program: Command, io: CliIo): void {
  program
    .command("init")
    .description("write a commented inventory: asks on a terminal; in scripts takes --answers FILE and flags and never prompts")
    .option("-o, --output <file>", "inventory file to write", "inventory.yaml")
    .option("--answers <file>", "answers file (YAML: name, kubernetesVersion, ssh, hosts, controlPlaneEndpoint, edgeVIP, podCIDR, serviceCIDR, addons); with it init never prompts")
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
    .option("--no-probe", "do not connect to the hosts (their keys are then trusted on first use by later commands)")
    .option("--connect-timeout <seconds>", "per host connection attempt while probing", "8")
    .option("--up", "run 'kubesmith up -i FILE' right after writing (without a terminal)")
    .action(async (opts: InitOptions) => {
      await runInit(opts, io);
    });
}
