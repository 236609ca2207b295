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
import { runSteps } from "./steps.js";

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

export const gatherFacts: Phase<ClusterContext> = {
  title: "connect and gather facts",
  async run(ctx) {
    // With --limit: the limited hosts, and the control planes, only read: the leader is chosen among them.
    const hosts = ctx.limit ? ctx.model.hosts.filter((h) => ctx.limit!.has(h.name) || h.isControlPlane) : ctx.model.hosts;
    try {
      await forHosts(ctx, hosts, async (h) => {
        const failed = failedBeforeFacts(ctx, h.name);
        if (failed) throw failed;
        const runner = await ctx.runner(h.name);
        const r = await runner.exec(factsScript(), { sudo: true, label: "gather facts" });
        const f = parseFacts(r.stdout);
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
      const n = await runSteps(ctx, h.name, await ctx.runner(h.name), steps);
      return n ? `${n} step(s) ${ctx.dryRun ? "to do" : "done"}` : "already prepared";
    });
  },
};
