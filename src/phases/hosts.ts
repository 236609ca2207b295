// Host phases of `up`: connect and gather facts, preflight, prepare the OS.
import { chooseLeader } from "../cluster/model.js";
import { MultiHostError, PreflightError, type KubesmithError } from "../errors.js";
import { factsScript, parseFacts } from "../facts/gather.js";
import { runPreflight } from "../preflight/checks.js";
import type { ClusterHost, ClusterModel } from "../cluster/model.js";
import type { FirewallModeName } from "../inventory/schema.js";
import { firewallOpenings, type FirewallPlan } from "../scripts/firewall.js";
import { prepareOsSteps } from "../scripts/os.js";
import { proxySettingsFor } from "../scripts/proxy.js";
import type { ClusterContext } from "./context.js";
import { fatalErrors, remaining } from "./partial.js";
import { failedBeforeFacts, unreachablePolicy } from "./reach.js";
import { forHosts, type Phase } from "./run.js";
import { applySteps, probeSteps, rememberProbed } from "./steps.js";
import { apiVipSteps } from "./controlplane.js";
import { readClusterSecrets } from "../cluster/secrets.js";

/** Does the host run keepalived: a control plane holding the API VIP, or a frontend holding the edge VIP. */
function runsVrrp(model: ClusterModel, h: ClusterHost): boolean {
  return (h.isControlPlane && model.endpoint.kind === "vip") || (h.isFrontend && model.inventory.cluster.edgeVIP !== undefined);
}

/** The host's firewall: hosts[].firewall, else cluster.firewall, else manage; and what its roles need let in. */
export function firewallPlan(model: ClusterModel, h: ClusterHost): FirewallPlan {
  const mode: FirewallModeName = h.spec.firewall ?? model.inventory.cluster.firewall ?? "manage";
  return {
    mode,
    openings: firewallOpenings({ controlPlane: h.isControlPlane, worker: h.isWorker, frontend: h.isFrontend, vrrp: runsVrrp(model, h) }),
  };
}

/** Where admin.conf's contents start in the lock host's prefetch output (not logged: a secret). */
const ADMIN_CONF_MARK = "@@kubesmith-admin-conf";
const ADMIN_CONF = "/etc/kubernetes/admin.conf";

/**
 * What the lock's round trip also reads on its host (cluster/lock.ts `then`): the facts, and admin.conf
 * when there is one, after a marker from which the logs leave it out.
 */
export function lockPrefetch(): { script: string; secretAfter: string } {
  return {
    // the facts script ends with its own exit: a subshell of its own
    script: `(\n${factsScript()}\n)\nif [ -f ${ADMIN_CONF} ]; then printf '%s\\n' '${ADMIN_CONF_MARK}'; cat ${ADMIN_CONF}; fi`,
    secretAfter: ADMIN_CONF_MARK,
  };
}

/** Keep what the lock's round trip read on `host` for the phases (facts, admin.conf). */
export function keepPrefetched(ctx: ClusterContext, host: string, stdout: string | undefined): void {
  if (stdout === undefined) return;
  const at = stdout.indexOf(`${ADMIN_CONF_MARK}\n`);
  ctx.prefetched = at < 0 ? { host, facts: stdout } : { host, facts: stdout.slice(0, at), adminConf: stdout.slice(at + ADMIN_CONF_MARK.length + 1) };
}

/** admin.conf read with the lock, while its host leads the run and no kubeadm init ran since; else undefined. */
export function prefetchedAdminConf(ctx: ClusterContext): string | undefined {
  return ctx.prefetched?.host === ctx.model.first.name ? ctx.prefetched.adminConf : undefined;
}

/** The hosts gatherFacts reaches. With --limit: the limited hosts, and the control planes, only read: the leader is chosen among them. */
function factsHosts(ctx: ClusterContext) {
  return ctx.limit ? ctx.model.hosts.filter((h) => ctx.limit!.has(h.name) || h.isControlPlane) : ctx.model.hosts;
}

/**
 * Start connecting to the hosts gatherFacts will reach (as many at once as the run's concurrency), so that
 * the SSH handshakes overlap what comes before it (the add-ons' render, ≈ 0.2–0.3 s, kubesmith's own work).
 * gatherFacts awaits the same connections (the pool shares a pending one); a failure is reported there,
 * exactly as without this. Connecting changes nothing on a host.
 */
export function preconnect(ctx: ClusterContext): void {
  for (const h of factsHosts(ctx).slice(0, Math.max(0, ctx.concurrency))) {
    if (failedBeforeFacts(ctx, h.name)) continue;
    ctx.runner(h.name).catch(() => {});
  }
}

export const gatherFacts: Phase<ClusterContext> = {
  title: "connect and gather facts",
  async run(ctx) {
    const hosts = factsHosts(ctx);
    try {
      await forHosts(ctx, hosts, async (h) => {
        const failed = failedBeforeFacts(ctx, h.name);
        if (failed) throw failed;
        // the lock's host: read in the lock's round trip
        const pre = ctx.prefetched?.host === h.name ? ctx.prefetched.facts : undefined;
        const f = parseFacts(pre ?? (await (await ctx.runner(h.name)).exec(factsScript(), { sudo: true, label: "gather facts" })).stdout);
        ctx.facts.set(h.name, f);
        if (f.kubeadmState !== "none") ctx.joined.add(h.name);
        return `${f.osPretty}, ${f.cpus} CPU, ${f.memoryMiB} MiB${f.kubeadmState !== "none" ? `, already set up (${f.kubeadmState})` : ""}`;
      }, { reads: true });
    } catch (err) {
      if (!unreachablePolicy(ctx, err)) throw err;
    }
    const leader = chooseLeader(ctx.model, (name) => ctx.facts.get(name)?.kubeadmState);
    if (leader !== ctx.model.first) {
      const first = ctx.model.first.name;
      ctx.reporter.emit({
        kind: "warning",
        host: leader.name,
        message: ctx.unreachable?.has(first)
          ? `${first} is unreachable and ${leader.name} is set up by kubeadm: ${leader.name} leads this run`
          : `${first} is not set up by kubeadm but ${leader.name} is: ${leader.name} leads this run and ${first} joins the running cluster as a control plane`,
      });
      ctx.model.first = leader;
    }
  },
};

export const preflight: Phase<ClusterContext> = {
  title: "preflight checks",
  async run(ctx) {
    const hosts = remaining(ctx, ctx.model.hosts);
    const findings = runPreflight(
      hosts.filter((h) => ctx.facts.has(h.name)).map((h) => ({
        name: h.name,
        roles: h.spec.roles,
        facts: ctx.facts.get(h.name)!,
        kubernetesVersion: ctx.model.inventory.cluster.kubernetesVersion,
        firewall: firewallPlan(ctx.model, h).mode,
        vrrp: runsVrrp(ctx.model, h),
      })),
    );
    for (const f of findings.filter((x) => x.severity === "warn")) {
      ctx.reporter.emit({ kind: "warning", host: f.host, message: `${f.check}: ${f.message}` });
    }
    const failed = findings.filter((x) => x.severity === "fail");
    // One error per host, so a failed worker may be left out (partial.ts); the rest stay one error.
    const perHost = hosts
      .map((h) => ({ host: h.name, lines: failed.filter((f) => f.host === h.name).map((f) => `${f.host}: ${f.check}: ${f.message}`) }))
      .filter((x) => x.lines.length)
      .map((x) => ({ host: x.host, error: new PreflightError(x.lines.join("\n")) }));
    const fatal = fatalErrors(ctx, perHost) as KubesmithError[];
    if (!fatal.length) return;
    // Hosts dropped in an earlier phase are named too when the bound is passed here (their own codes).
    throw fatal.every((e) => e instanceof PreflightError) ? new PreflightError(fatal.map((e) => e.message).join("\n")) : new MultiHostError(fatal);
  },
};

export const prepareHosts: Phase<ClusterContext> = {
  title: "prepare hosts (kernel, swap, SELinux/firewall on RHEL-likes, containerd, Kubernetes packages)",
  async run(ctx) {
    const inv = ctx.model.inventory;
    await forHosts(ctx, ctx.model.hosts, async (h) => {
      const pm = ctx.facts.get(h.name)!.packageManager;
      if (pm === "unknown") throw new PreflightError(`${h.name}: no supported package manager`);
      const steps = prepareOsSteps({
        packageManager: pm,
        kubernetesVersion: inv.cluster.kubernetesVersion,
        ...(inv.offline ? { offline: inv.offline } : {}),
        firewall: firewallPlan(ctx.model, h),
        proxy: proxySettingsFor(inv),
      });
      const runner = await ctx.runner(h.name);
      // A control plane's keepalived steps (next phase) are probed in the same script: used there when
      // nothing changes on the host before (steps.ts probedAhead). VRRPv2 only with its password known.
      const cpe = inv.cluster.controlPlaneEndpoint;
      const pass = cpe && "vip" in cpe && cpe.vrrpVersion === 2 ? readClusterSecrets(ctx.stateDir, ctx.model.name)?.vrrpPass : undefined;
      const vip = h.isControlPlane && !(cpe && "vip" in cpe && cpe.vrrpVersion === 2 && pass === undefined) ? (apiVipSteps(ctx, h, pass) ?? []) : [];
      const needed = await probeSteps(runner, [...steps, ...vip]);
      if (vip.length) rememberProbed(ctx, h.name, vip, needed.slice(steps.length));
      const n = (await applySteps(ctx, h.name, runner, steps, { probed: needed.slice(0, steps.length) })).filter(Boolean).length;
      return n ? `${n} step(s) ${ctx.dryRun ? "to do" : "done"}` : "already prepared";
    });
  },
};
