// Host bundles over SSH: the same render → diff → apply → prune cycle as cluster bundles, made of Steps
// (read-only probe, idempotent apply) run through the change gate:
//   packages     installed with the host's package manager (scripts/packages.ts; the index is refreshed
//                only when this run has not yet on that host, transient failures tried again: phases/packages.ts)
//   files        written atomically (temp file in the same directory, validated, then renamed); secret
//                files travel on stdin and are written 0600-style under umask 077
//   restarts     services a changed (or removed) file names are restarted, when they run
//   prune        files the release wrote before (listed in /var/lib/kubesmith/addons/<release>.json on the
//                host) that the new render no longer has are removed
//   services     enabled and started
// A file's `validate` command runs on the temp file before it replaces the real one; `%s`, `{file}` or
// the word FILE in it stand for that path (appended when none is present). Any non-zero exit is a
// failure (keepalived -t exits 5 on warnings too) and its output is shown.
import { CommandError, UsageError } from "../errors.js";
import { change, forHosts, type PhaseContext } from "../phases/run.js";
import { applyStep } from "../phases/packages.js";
import { applySteps, probeStepsWith, stepNeeded } from "../phases/steps.js";
import { checkUnit, installStep, packageTool, restartIfActive, serviceEnabledStep, serviceStoppedStep, type PackageManager } from "../scripts/packages.js";
import { APPLY_HEADER, SECRET_PREAMBLE, assertAbsolutePath, fileMatchesProbe, fileStep, modeString, probeAll, script, type Step } from "../scripts/step.js";
import { quote, sh } from "../ssh/quote.js";
import type { Runner } from "../ssh/types.js";
import { AddonError } from "./errors.js";
import type { RenderedHostFile, RenderedHosts } from "./types.js";

/** The host's package manager as the facts found it (facts/gather.ts). */
export type HostPackageManager = PackageManager | "unknown";

export interface HostTarget {
  name: string;
  runner: Runner;
  packageManager: HostPackageManager;
}

export const HOST_MANIFEST_DIR = "/var/lib/kubesmith/addons";

/** What the host remembers of a release: the files it wrote and the services each one restarts. */
export interface HostManifest {
  bundle: string;
  release: string;
  files: { path: string; restart: string[] }[];
  /** Services the release enabled and started; stopped and disabled when it is removed. */
  services?: string[];
}

/** Exit code of a file step whose validate command rejected the file. */
export const VALIDATE_FAILED = 65;

export function hostManifestPath(release: string): string {
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(release)) throw new UsageError(`release name '${release}' is not a valid DNS-1123 name`);
  return `${HOST_MANIFEST_DIR}/${release}.json`;
}

export function hostManifest(rendered: RenderedHosts, host: string): HostManifest {
  return {
    bundle: rendered.bundle,
    release: rendered.release.name,
    files: (rendered.files[host] ?? []).map((f) => ({ path: f.path, restart: f.restart ?? [] })),
    services: [...rendered.services],
  };
}

/** The validate command with the temp file's path put in (quoted). */
export function validateCommand(template: string, path: string, q: (p: string) => string = quote): string {
  // {{file}} (as addon.yaml files write it) before {file}: otherwise its braces stay around the path, and
  // `keepalived -t -f {'…'}` checks a file that does not exist, which keepalived -t passes (LAB-NOTES).
  const slot = /%s|\{\{\s*file\s*\}\}|\{file\}|\bFILE\b/g;
  if (slot.test(template)) return template.replace(slot, () => q(path));
  return `${template} ${q(path)}`;
}

/** A step keeping one file, validated before it replaces the old one. */
export function hostFileStep(release: string, f: RenderedHostFile): Step {
  assertAbsolutePath(f.path, "file path");
  if (!f.validate) {
    return fileStep({ id: `file:${f.path}`, what: `${release}: write ${f.path}`, file: { path: f.path, content: f.content, mode: f.mode, secret: f.secret } });
  }
  const dir = f.path.replace(/\/[^/]*$/, "") || "/";
  const tmp = `${f.path}.kubesmith-tmp`;
  const step: Step = {
    id: `file:${f.path}`,
    what: `${release}: write ${f.path} (checked with '${validateCommand(f.validate, f.path, (p) => p)}' first)`,
    probe: script(f.secret ? SECRET_PREAMBLE : undefined, probeAll(fileMatchesProbe({ path: f.path, content: f.content, mode: f.mode, secret: f.secret }))),
    apply: script(
      APPLY_HEADER,
      f.secret ? SECRET_PREAMBLE : undefined,
      sh`mkdir -p ${dir}`,
      f.secret ? sh`(umask 077 && printf '%s\\n' "$want" > ${tmp})` : sh`printf '%s' ${f.content} > ${tmp}`,
      sh`chmod ${modeString(f.mode)} ${tmp}`,
      `if ! out=$(${validateCommand(f.validate, tmp)} 2>&1); then`,
      `  printf '%s\\n' "$out" >&2`,
      sh`  rm -f ${tmp}`,
      `  exit ${VALIDATE_FAILED}`,
      "fi",
      sh`mv -f ${tmp} ${f.path}`,
    ),
  };
  if (f.secret) {
    step.stdin = f.content;
    step.secrets = [f.content];
  }
  return step;
}

/** The bundle's packages for the host's family (the bundle lists them as apt for Debian/Ubuntu, dnf for RHEL-likes, yum included). */
export function packagesStep(release: string, pm: HostPackageManager, pkgs: { apt: string[]; dnf: string[] }): Step | undefined {
  const tool = pm === "unknown" ? undefined : packageTool(pm);
  const list = tool?.family === "debian" ? pkgs.apt : pkgs.dnf;
  if (!list.length) return undefined;
  if (!tool) throw new UsageError(`${release}: cannot install ${list.join(", ")}: the host's package manager is unknown`);
  return installStep(tool, { id: "packages", what: `${release}: install ${list.join(", ")}`, pkgs: list });
}

export function serviceStep(release: string, service: string): Step {
  const s = checkUnit(service);
  return serviceEnabledStep({ id: `service:${s}`, what: `${release}: enable and start ${s}`, unit: s, start: true });
}

export function stopServiceStep(release: string, service: string): Step {
  const s = checkUnit(service);
  return serviceStoppedStep({ id: `service-stop:${s}`, what: `${release}: stop and disable ${s}`, unit: s });
}

export function removeFileStep(release: string, path: string): Step {
  assertAbsolutePath(path, "file path");
  return {
    id: `prune:${path}`,
    what: `${release}: remove ${path} (no longer rendered)`,
    probe: sh`[ ! -e ${path} ] && [ ! -L ${path} ]`,
    apply: script(APPLY_HEADER, sh`rm -f ${path}`),
  };
}

export function restartCommand(service: string): string {
  return restartIfActive(service);
}

export function parseHostManifest(text: string): HostManifest | undefined {
  try {
    const m = JSON.parse(text) as HostManifest;
    if (!m || !Array.isArray(m.files)) return undefined;
    return {
      bundle: String(m.bundle),
      release: String(m.release),
      files: m.files.filter((f) => typeof f?.path === "string").map((f) => ({ path: f.path, restart: Array.isArray(f.restart) ? f.restart : [] })),
      services: Array.isArray(m.services) ? m.services.filter((x): x is string => typeof x === "string") : [],
    };
  } catch {
    return undefined;
  }
}

function readManifestCommand(release: string): string {
  return sh`cat ${hostManifestPath(release)}`;
}

async function readHostManifest(runner: Runner, release: string): Promise<HostManifest | undefined> {
  const r = await runner.exec(readManifestCommand(release), { sudo: true, allowFailure: true, label: `read ${release} manifest` });
  return r.code === 0 ? parseHostManifest(r.stdout) : undefined;
}

/** Probe, and when it fails apply through the gate and probe again. True when it changed (or would). */
async function runStep(ctx: PhaseContext, host: string, runner: Runner, release: string, s: Step): Promise<boolean> {
  if (!(await stepNeeded(runner, s))) return false;
  await change(ctx, host, s.what, async () => {
    const r = await applyStep(ctx, host, runner, s);
    if (r.code === VALIDATE_FAILED && s.id.startsWith("file:")) {
      const out = r.stderr.trim().split("\n").filter(Boolean).slice(-8).join(" | ");
      throw new AddonError(release, `${host}: ${s.id.slice(5)} was rejected by its validate command, left unchanged: ${out || "(no output)"}`, {
        hint: "fix the bundle's template or values",
      });
    }
    if (r.code !== 0) throw new CommandError(host, s.apply, r.code, r.stderr, `step '${s.id}' (${s.what})`);
    if (await stepNeeded(runner, s)) throw new CommandError(host, s.probe, 1, "", `step '${s.id}' (${s.what}) ran but its check still fails`);
  });
  return true;
}

/**
 * How a host bundle's step failure reads: a file its validate command rejected is the bundle's error;
 * any other failure names the step.
 */
function hostStepFailure(host: string, release: string) {
  return (s: Step, r: { code: number | null; stderr: string }) => {
    if (r.code === VALIDATE_FAILED && s.id.startsWith("file:")) {
      const out = r.stderr.trim().split("\n").filter(Boolean).slice(-8).join(" | ");
      return new AddonError(release, `${host}: ${s.id.slice(5)} was rejected by its validate command, left unchanged: ${out || "(no output)"}`, {
        hint: "fix the bundle's template or values",
      });
    }
    return new CommandError(host, s.apply, r.code, r.stderr, `step '${s.id}' (${s.what})`);
  };
}

/**
 * One host: packages, files, restarts, prune, manifest, services. Returns the number of changes. The
 * host's manifest of the release is read in the same script as the probes of every step known before
 * it (phases/steps.ts): a host already up to date costs one round trip.
 */
export async function applyHostReleaseOn(ctx: PhaseContext, rendered: RenderedHosts, t: HostTarget): Promise<number> {
  const release = rendered.release.name;
  const files = rendered.files[t.name] ?? [];
  const pkg = packagesStep(release, t.packageManager, rendered.packages);
  const fileSteps = files.map((f) => hostFileStep(release, f));
  const manifest = fileStep({
    id: "manifest",
    what: `${release}: record the release's files in ${hostManifestPath(release)}`,
    file: { path: hostManifestPath(release), content: `${JSON.stringify(hostManifest(rendered, t.name), null, 2)}\n`, mode: 0o644 },
  });
  const services = rendered.services.map((x) => serviceStep(release, x));
  const first = [...(pkg ? [pkg] : []), ...fileSteps];
  const last = [manifest, ...services];
  const probed = await probeStepsWith(t.runner, [...first, ...last], readManifestCommand(release));
  const old = probed.prelude ? parseHostManifest(probed.prelude) : undefined;
  const failure = hostStepFailure(t.name, release);

  // Files the release wrote before that the new render no longer has: removed (probed with the applies).
  const keep = new Set(files.map((f) => f.path));
  const gone = (old?.files ?? []).filter((o) => !keep.has(o.path));
  const firstDone = await applySteps(ctx, t.name, t.runner, [...first, ...gone.map((o) => removeFileStep(release, o.path))], {
    failure,
    probed: first.map((_, i) => probed.needed[i]),
  });
  let changed = firstDone.filter(Boolean).length;
  const restart = new Set<string>();
  files.forEach((f, i) => {
    if (firstDone[(pkg ? 1 : 0) + i]) for (const x of f.restart ?? []) restart.add(x);
  });
  gone.forEach((o, i) => {
    if (firstDone[first.length + i]) for (const x of o.restart) restart.add(x);
  });
  for (const x of restart) {
    await change(ctx, t.name, `${release}: restart ${x} (its configuration changed)`, async () => {
      await t.runner.exec(restartCommand(x), { sudo: true, label: `restart ${x}` });
    });
  }
  // The manifest and the services were probed before anything changed: current only when nothing did.
  const current = !firstDone.some(Boolean) && restart.size === 0;
  const lastDone = await applySteps(ctx, t.name, t.runner, last, {
    failure,
    ...(current ? { probed: last.map((_, i) => probed.needed[first.length + i]) } : {}),
  });
  // The manifest is bookkeeping, not counted as a change of the host's configuration.
  changed += lastDone.slice(1).filter(Boolean).length;
  return changed;
}

/** Every host the render has files for (and that is among `targets`), in parallel; per-host errors are collected. */
export async function applyHostRelease(ctx: PhaseContext, rendered: RenderedHosts, targets: HostTarget[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const selected = targets.filter((t) => rendered.files[t.name] !== undefined);
  await forHosts(ctx, selected, async (t) => {
    const n = await applyHostReleaseOn(ctx, rendered, t);
    out.set(t.name, n);
    return n ? `${rendered.release.name}: ${n} change(s)` : `${rendered.release.name}: up to date`;
  });
  return out;
}

/** Remove what a host release wrote: stop and disable its services, remove the files in its manifest, then the manifest. */
export async function removeHostRelease(ctx: PhaseContext, release: string, targets: HostTarget[]): Promise<void> {
  await forHosts(ctx, targets, async (t) => {
    const old = await readHostManifest(t.runner, release);
    if (!old) return `${release}: not installed`;
    for (const svc of old.services ?? []) await runStep(ctx, t.name, t.runner, release, stopServiceStep(release, svc));
    const stopped = new Set(old.services ?? []);
    const restart = new Set<string>();
    for (const f of old.files) {
      if (await runStep(ctx, t.name, t.runner, release, removeFileStep(release, f.path))) for (const s of f.restart) restart.add(s);
    }
    for (const s of restart) {
      if (stopped.has(s)) continue;
      await change(ctx, t.name, `${release}: restart ${s} (its configuration was removed)`, async () => {
        await t.runner.exec(restartCommand(s), { sudo: true, label: `restart ${s}` });
      });
    }
    await runStep(ctx, t.name, t.runner, release, { ...removeFileStep(release, hostManifestPath(release)), what: `${release}: forget the release (${hostManifestPath(release)})` });
    return `${release}: removed`;
  });
}

/** Releases a host has a manifest for (what kubesmith installed there, whatever the inventory says now). */
export async function installedHostReleases(runner: Runner): Promise<string[]> {
  const r = await runner.exec(sh`ls -1 ${HOST_MANIFEST_DIR} 2>/dev/null || true`, { sudo: true, label: "list host add-on releases" });
  return r.stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.endsWith(".json"))
    .map((l) => l.slice(0, -".json".length));
}
