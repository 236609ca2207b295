// `kubesmith certs check | renew`, the work (see certs.ts).
//
// Expiry comes from kubeadm itself (`kubeadm certs check-expiration` on each control plane) and its
// RESIDUAL TIME column, which the host computes with its own clock: what counts is when the certificate
// expires for the host that serves it, not for the machine kubesmith runs on.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { CliIo } from "../cli/main.js";
import { buildModel } from "../cluster/model.js";
import { ApiError, ExpiredError, KubesmithError, MultiHostError } from "../errors.js";
import { loadInventory } from "../inventory/load.js";
import { namedKubeconfig } from "../phases/api.js";
import { kubeconfigFile } from "../cluster/state.js";
import type { ClusterContext, ClusterOptions } from "../phases/context.js";
import { gatherFacts } from "../phases/hosts.js";
import { change, followUp, throwIfInterrupted, type Phase } from "../phases/run.js";
import { restartStaticPodsScript, waitLocalApiScript } from "../scripts/static-pods.js";
import { SshPool } from "../ssh/pool.js";
import { targetsFromInventory } from "../ssh/targets.js";
import type { Runner } from "../ssh/types.js";
import { formatOutput } from "../ui/output.js";
import { table } from "../ui/table.js";
import { parseConcurrency } from "./check.js";
import type { CertsCheckOptions, CertsRenewFlags } from "./certs.js";
import { resolveInventoryPath } from "./inventory.js";

/** Warn when a certificate has fewer days left than this. */
export const WARN_DAYS = 30;
const DAY_MS = 86_400_000;

export interface CertExpiry {
  host: string;
  name: string;
  /** CERTIFICATE AUTHORITY column; undefined for a CA itself. */
  authority?: string;
  ca: boolean;
  /** As kubeadm prints it: "Nov 30, 2027 06:21 UTC". */
  expires: string;
  /** kubeadm's RESIDUAL TIME: "25d", "9y", "5h", "<invalid>" (expired). */
  residual: string;
  /** residual in ms (negative: expired); for sorting and the warnings. */
  residualMs: number;
  externallyManaged: boolean;
}

/** kubeadm's residual (apimachinery ShortHumanDuration) back to ms; "<invalid>" is expired. */
export function residualMs(s: string): number {
  if (s === "<invalid>") return -1;
  const m = /^(\d+)(s|m|h|d|y)$/.exec(s.trim());
  if (!m) throw new Error(`unknown residual time ${JSON.stringify(s)}`);
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS, y: 365 * DAY_MS }[m[2] as "s" | "m" | "h" | "d" | "y"];
  return Number(m[1]) * unit;
}

/**
 * `kubeadm certs check-expiration`'s text output: the certificates' table, `!MISSING! name` lines (a file
 * that is not there, e.g. super-admin.conf on a joined control plane: skipped), then the CAs' table.
 * Columns are separated by runs of two or more spaces (Go's tabwriter, padding 3). Throws on text that
 * has neither table.
 */
export function parseCheckExpiration(host: string, text: string): CertExpiry[] {
  const out: CertExpiry[] = [];
  let mode: "none" | "certs" | "cas" = "none";
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    if (/^CERTIFICATE\s{2,}EXPIRES/.test(line)) {
      mode = "certs";
      continue;
    }
    if (/^CERTIFICATE AUTHORITY\s{2,}EXPIRES/.test(line)) {
      mode = "cas";
      continue;
    }
    if (!line || line.startsWith("[") || line.startsWith("!MISSING!") || mode === "none") continue;
    const f = line.split(/\s{2,}/);
    if (mode === "certs" && f.length >= 5) {
      out.push({ host, name: f[0]!, expires: f[1]!, residual: f[2]!, residualMs: residualMs(f[2]!), authority: f[3]!, ca: false, externallyManaged: f[4] === "yes" });
    } else if (mode === "cas" && f.length >= 4) {
      out.push({ host, name: f[0]!, expires: f[1]!, residual: f[2]!, residualMs: residualMs(f[2]!), ca: true, externallyManaged: f[3] === "yes" });
    }
  }
  if (mode === "none") throw new Error(`no certificate table in kubeadm's output: ${text.trim().split("\n").pop() ?? ""}`);
  return out;
}

/** One warning per certificate under WARN_DAYS (expired ones say so), soonest first. */
export function expiryWarnings(certs: CertExpiry[]): string[] {
  return [...certs]
    .filter((c) => c.residualMs < WARN_DAYS * DAY_MS)
    .sort((a, b) => a.residualMs - b.residualMs)
    .map((c) => `${c.host}: ${c.ca ? "CA " : ""}${c.name} ${c.residualMs < 0 ? `has EXPIRED (${c.expires})` : `expires in ${c.residual} (${c.expires})`}; ${c.ca ? "a CA is not renewed by 'kubesmith certs renew'" : "run 'kubesmith certs renew'"}`);
}

const CHECK = "kubeadm certs check-expiration";

/** This control plane's certificates, from kubeadm. */
export async function readExpiry(runner: Runner): Promise<CertExpiry[]> {
  const r = await runner.exec(CHECK, { sudo: true, label: "certificate expiry" });
  return parseCheckExpiration(runner.host, r.stdout);
}

/** For `status`: warnings about one control plane's certificates (empty when it cannot say). */
export async function statusCertWarnings(runner: Runner): Promise<string[]> {
  try {
    return expiryWarnings(await readExpiry(runner));
  } catch (err) {
    return [`${runner.host}: could not read certificate expiry: ${err instanceof KubesmithError ? err.oneLine() : (err as Error).message}`];
  }
}

export interface CertsReport {
  cluster: string;
  certificates: CertExpiry[];
  warnings: string[];
}

export async function certsCheck(opts: CertsCheckOptions, io: CliIo): Promise<void> {
  const loaded = await loadInventory(resolveInventoryPath(opts.inventory));
  const targets = targetsFromInventory(loaded.inventory, { baseDir: dirname(loaded.file), inventoryFile: loaded.file, ...(opts.hostKeyPolicy ? { hostKeyPolicy: opts.hostKeyPolicy } : {}) });
  const model = buildModel(loaded, targets);
  const warnings: string[] = [];
  const pool = new SshPool({ concurrency: parseConcurrency(opts.concurrency), onWarning: (host, message) => warnings.push(`${host}: ${message}`) });
  const certificates: CertExpiry[] = [];
  const failures: KubesmithError[] = [];
  try {
    const results = await pool.forEachHost(model.controlPlanes.map((h) => h.target), (runner) => readExpiry(runner));
    for (const h of model.controlPlanes) {
      const r = results.get(h.name);
      if (r?.status === "fulfilled") certificates.push(...r.value);
      else if (r) {
        const e = r.reason;
        warnings.push(`${h.name}: ${e instanceof KubesmithError ? e.oneLine() : (e as Error).message}`);
        if (e instanceof KubesmithError) failures.push(e);
      }
    }
  } finally {
    await pool.closeAll();
  }
  certificates.sort((a, b) => a.residualMs - b.residualMs || a.host.localeCompare(b.host) || a.name.localeCompare(b.name));
  warnings.push(...expiryWarnings(certificates));
  const report: CertsReport = { cluster: model.name, certificates, warnings };
  io.stdout(
    await formatOutput(opts.output, report, () => {
      const rows = certificates.map((c) => [c.host, c.ca ? `${c.name} (CA)` : c.name, c.expires, c.residual, c.authority ?? "-"]);
      return `${table(["HOST", "CERTIFICATE", "EXPIRES", "RESIDUAL", "AUTHORITY"], rows)}${warnings.map((w) => `warning: ${w}\n`).join("")}`;
    }),
  );
  // Nothing read at all: the command could not do its job.
  if (!certificates.length && failures.length) throw failures.length === 1 ? failures[0]! : new MultiHostError(failures);
  const expired = expiredError(certificates);
  if (expired) throw expired;
}

/** What `certs check` exits with when a certificate has expired (the report names each one). */
export function expiredError(certificates: readonly CertExpiry[]): ExpiredError | undefined {
  const gone = certificates.filter((c) => c.residualMs < 0);
  if (!gone.length) return undefined;
  const names = gone.map((c) => `${c.host} ${c.ca ? "CA " : ""}${c.name}`);
  const some = names.length > 3 ? `${names.slice(0, 3).join(", ")} and ${names.length - 3} more` : names.join(", ");
  return new ExpiredError(`${gone.length} certificate(s) have expired: ${some}`, {
    hint: gone.some((c) => c.ca) ? "renew the others with 'kubesmith certs renew'; an expired CA needs kubeadm's own procedure" : "run 'kubesmith certs renew'",
  });
}

/** Renew, restart and wait on each control plane kubeadm set up, one at a time. */
export const renewCerts: Phase<ClusterContext> = {
  title: "renew certificates, one control plane at a time",
  async run(ctx) {
    const cps = ctx.model.controlPlanes.filter((h) => ctx.facts.get(h.name)?.kubeadmState === "control-plane");
    if (!cps.length) throw new ApiError("no control plane is set up by kubeadm: there is nothing to renew", { hint: "run 'kubesmith up' first" });
    for (const h of cps) {
      throwIfInterrupted(ctx);
      const runner = await ctx.runner(h.name);
      await change(ctx, h.name, "kubeadm certs renew all", async () => {
        await runner.exec("kubeadm certs renew all", { sudo: true, label: "kubeadm certs renew all" });
      });
      await change(ctx, h.name, "restart etcd, kube-apiserver, kube-controller-manager, kube-scheduler (manifests moved out and back)", async () => {
        await runner.exec(restartStaticPodsScript(), { sudo: true, label: "restart control-plane static pods", timeoutMs: 360_000 });
      });
      await followUp(ctx, async () => {
        await runner.exec(waitLocalApiScript(), { sudo: true, label: "wait for this host's kube-apiserver", timeoutMs: 150_000 });
        const left = (await readExpiry(runner)).filter((c) => !c.ca && c.residualMs < WARN_DAYS * DAY_MS);
        if (left.length) throw new ApiError(`${h.name}: after renewal ${left.map((c) => `${c.name} (${c.residual})`).join(", ")} still expire soon`);
      });
    }
    // The kept kubeconfig: admin.conf's client certificate was renewed too.
    const first = await ctx.runner(cps[0]!.name);
    // The kept admin kubeconfig (<state>/<cluster>/kubeconfig, as `up` writes it), rewritten from a fresh admin.conf.
    const file = kubeconfigFile(ctx.stateDir, ctx.model.name);
    await change(ctx, "local", `refresh ${file} from ${cps[0]!.name}'s renewed admin.conf`, async () => {
      const adminConf = (await first.download("/etc/kubernetes/admin.conf", { sudo: true })).toString("utf8");
      ctx.adminConf = adminConf;
      const text = namedKubeconfig(adminConf, ctx.model.name);
      if (existsSync(file) && readFileSync(file, "utf8") === text) return;
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, text, { mode: 0o600 });
      chmodSync(file, 0o600);
    });
  },
};

export async function certsRenew(f: CertsRenewFlags, opts: ClusterOptions, io: CliIo): Promise<void> {
  // loaded here: cluster-run imports status-run, which imports this module for its warnings
  const { runCluster } = await import("./cluster-run.js");
  const ctx = await runCluster("certs renew", [gatherFacts, renewCerts], opts, io, f.output, undefined, !!f.plain);
  if (f.output === "plain") io.stdout(opts.dryRun ? `\n${ctx.changes.length} change(s) planned; nothing was changed.\n` : `\nRenewed on ${ctx.changes.filter((c) => c.what === "kubeadm certs renew all").length} control plane(s); 'kubesmith certs check' shows the new dates.\n`);
}
