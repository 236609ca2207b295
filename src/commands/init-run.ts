// `kubesmith init`, the work (see init.ts): answers → probes → a checked inventory, written atomically.
import { link, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import pLimit from "p-limit";
import type { CliIo } from "../cli/main.js";
import { type ExitCodeValue, KubesmithError, MultiHostError, UsageError, UserAbort } from "../errors.js";
import { type Answers, type AnswersInput, completeAnswers, localPath, mergeFlags, parseAnswers } from "../wizard/answers.js";
import { generateInventory, validateGenerated } from "../wizard/generate.js";
import { describeFacts, probeHost, type ProbeResult } from "../wizard/probe.js";
import { checkVipFree, vipInUse } from "../wizard/vipcheck.js";
import { askOutputPath, askOverwrite, askRunUp, canPrompt, offerToKeep, runWizard, toAnswersInput } from "../wizard/questions.js";
import type { InitOptions } from "./init.js";

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

/** Whether answers (file + flags) leave a question open: completeAnswers names it as a missing answer. */
function missesAnswers(input: AnswersInput): boolean {
  try {
    completeAnswers(input, { probed: false, interfaceOf: () => "pending" });
    return false;
  } catch (e) {
    if (e instanceof UsageError && e.message.startsWith("missing answer")) return true;
    throw e;
  }
}

/** Where Ctrl-C keeps the answers: next to the inventory, inventory.yaml -> inventory.answers.yaml. */
function keptAnswersFile(output: string): string {
  return `${output.replace(/\.ya?ml$/i, "")}.answers.yaml`;
}

/** Whether a prefilling flag was given on the command line ("--pod-cidr" -> opts.podCidr). */
function flagGiven(opts: InitOptions, flag: string): boolean {
  const key = flag.replace(/^--/, "").split(/\s/)[0]!.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  if (key === "set") return Boolean(opts.set?.length);
  if (key === "identityFile" || key === "agent") return opts.identityFile !== undefined || opts.agent !== undefined;
  return (opts as unknown as Record<string, unknown>)[key] !== undefined;
}

/**
 * Each VIP asked of the network from the first host that will hold it (vipcheck.ts): an address someone
 * answers for is refused (exit 9), one that cannot be checked is said and kept.
 */
async function checkVips(answers: Answers, probes: Map<string, ProbeResult>, out: (s: string) => void, timeoutMs: number): Promise<void> {
  const owners = answers.hosts.flatMap((h) => {
    const p = probes.get(h.address);
    return p ? [{ name: h.name, interfaces: p.interfaces }] : [];
  });
  const cpe = answers.controlPlaneEndpoint;
  const vips = [
    ...(cpe && "vip" in cpe ? [{ field: "controlPlaneEndpoint.vip", vip: cpe.vip, role: "control-plane" as const }] : []),
    ...(answers.edgeVIP ? [{ field: "edgeVIP.vip", vip: answers.edgeVIP.vip, role: "frontend" as const }] : []),
  ];
  for (const v of vips) {
    const from = answers.hosts.find((h) => h.roles.includes(v.role) && probes.has(h.address));
    if (!from) continue;
    const r = await checkVipFree(from, v.vip, { interfaces: probes.get(from.address)!.interfaces, owners, knownHostsFile: localPath(answers.knownHostsFile), connectTimeoutMs: timeoutMs });
    if (r.outcome === "taken") throw vipInUse(v.field, r.reason!);
    out(`${v.vip}: ${r.outcome === "free" ? `free (${r.reason})` : `not checked: ${r.reason}`}`);
  }
}

export async function runInit(opts: InitOptions, io: CliIo): Promise<void> {
  const out = (s: string) => io.stdout(`${s}\n`);
  const tty = canPrompt();
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
  // On a terminal the wizard asks what the flags and answers file leave open (what they answer is shown,
  // not asked): always without --answers, and with an answers file that is incomplete (one kept by Ctrl-C).
  const interactive = tty && (!opts.answers || missesAnswers(input));
  const timeoutMs = opts.connectTimeout ? Math.max(1000, Number.parseInt(opts.connectTimeout, 10) * 1000 || 8000) : 8000;

  let file = resolve(opts.output);
  let overwrite = Boolean(opts.force);
  let answers: Answers;
  let notes: Record<string, string> = {};

  if (interactive) {
    const keepFile = keptAnswersFile(opts.output);
    const givenBy = (flag: string) => (flag !== "--answers" && flagGiven(opts, flag) ? flag : opts.answers ? `from ${opts.answers}` : "given");
    const r = await runWizard(input, { out: io.stdout, probe: opts.probe, connectTimeoutMs: timeoutMs, keepFile, givenBy });
    answers = r.answers;
    notes = r.notes;
    try {
      for (;;) {
        file = resolve(localPath(await askOutputPath(relative(process.cwd(), file) || opts.output)));
        if (!existsSync(file) || overwrite) break;
        if (await askOverwrite(file)) {
          overwrite = true;
          break;
        }
      }
    } catch (e) {
      if (e instanceof UserAbort) throw await offerToKeep(toAnswersInput({ ...answers, seedHostsDone: input.hosts?.length ?? 0 }, input), keepFile, io.stdout);
      throw e;
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
    if (opts.probe) await checkVips(answers, probes, out, timeoutMs);
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
    const code = await main(["up", "-i", file, ...(opts.plain ? ["--plain"] : [])], io);
    if (code !== 0) throw new UpFailed(code as ExitCodeValue, file);
  }
}

