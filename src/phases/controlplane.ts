// Control-plane phases of `up`: the keepalived VIP, kubeadm init on the first control plane, control-plane
// joins one at a time (etcd quorum), worker joins in parallel. Tokens and certificate keys live only in
// memory and in 0600 files that are removed right after use; they never reach argv or a log.
import { X509Certificate, createHash, randomBytes, randomInt } from "node:crypto";
import { stringify } from "yaml";
import { CommandError, UsageError } from "../errors.js";
import { endpointString, type ClusterHost } from "../cluster/model.js";
import { loadClusterSecrets } from "../cluster/secrets.js";
import { APISERVER_CHECK_SCRIPT, keepalivedSteps } from "../scripts/keepalived.js";
import type { PackageManager } from "../scripts/packages.js";
import { KUBEADM_API, joinGuardProbe, kubeadmInitCommand, kubeadmInitConfig, kubeadmJoinCommand, kubeadmJoinConfig } from "../scripts/kubeadm.js";
import { quote, sh } from "../ssh/quote.js";
import { script } from "../scripts/step.js";
import type { Runner } from "../ssh/types.js";
import { connectKube, ensureKube } from "./api.js";
import { prefetchedAdminConf } from "./hosts.js";
import { removeStaleEtcdMember } from "./etcd-member.js";
import { requireLiveApi } from "./reach.js";
import type { ClusterContext, JoinSecrets } from "./context.js";
import { change, forHosts, type Phase } from "./run.js";
import { applySteps, probedAhead } from "./steps.js";
import type { Step } from "../scripts/step.js";

const WORK_DIR = "/var/lib/kubesmith";
const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";

export function randomToken(): string {
  const pick = (n: number) => Array.from({ length: n }, () => ALNUM[randomInt(ALNUM.length)]).join("");
  return `${pick(6)}.${pick(16)}`;
}

/** An InitConfiguration holding one join token valid for an hour, for `kubeadm token create --config`. */
export function joinTokenConfig(token: string): string {
  return stringify({
    apiVersion: KUBEADM_API,
    kind: "InitConfiguration",
    bootstrapTokens: [{ token, ttl: "1h0m0s", usages: ["signing", "authentication"], groups: ["system:bootstrappers:kubeadm:default-node-token"] }],
  });
}

/** sha256 of the CA's SubjectPublicKeyInfo (DER): kubeadm's --discovery-token-ca-cert-hash. */
export function caCertHash(caPem: string): string {
  const spki = new X509Certificate(caPem).publicKey.export({ type: "spki", format: "der" });
  return `sha256:${createHash("sha256").update(spki).digest("hex")}`;
}

/** VRRP router id 1-255 from the cluster name, stable across runs. */
export function routerIdFor(cluster: string): number {
  return (createHash("sha256").update(cluster).digest()[0]! % 250) + 1;
}

function taintsOf(h: ClusterHost) {
  return h.spec.taints?.map((t) => ({ key: t.key, effect: t.effect, ...(t.value !== undefined ? { value: t.value } : {}) }));
}

/**
 * Has kubeadm joined the host (as a control plane: also runs an API server)? Read from the facts gathered
 * at the start of the run (the join guard's two files are among them), live only when they lack it.
 */
async function isJoined(ctx: ClusterContext, h: ClusterHost, runner: Runner, kind: "worker" | "control-plane"): Promise<boolean> {
  const f = ctx.facts.get(h.name);
  if (f?.kubeletConf !== undefined) return f.kubeletConf && (kind === "worker" || f.kubeadmState === "control-plane");
  const r = await runner.exec(joinGuardProbe(kind), { sudo: true, allowFailure: true, label: "already joined?" });
  return r.code === 0;
}

/** What a secret-file command prints after its own output when it is asked for the cluster's CA, and for admin.conf. */
const CA_MARK = "@@kubesmith-ca";
const ADMIN_CONF_MARK = "@@kubesmith-init-admin-conf";

/**
 * One remote command: write a secret config (read from stdin: never argv, never a logged script) to a
 * 0600 file in the work dir, run a kubeadm command with it, and remove the file however the command
 * ends. With `ca`, the cluster CA (public) is printed after a marker, so it needs no download of its own;
 * with `adminConf` also admin.conf, after a marker from which the logs leave the output out (a secret).
 * Returns the command's stdout (before the markers), the CA and admin.conf.
 */
async function withSecretFile(
  runner: Runner,
  name: string,
  content: string,
  command: (path: string) => string,
  o: { label: string; secrets: string[]; ca?: boolean; adminConf?: boolean },
): Promise<{ stdout: string; ca?: string; adminConf?: string }> {
  const path = `${WORK_DIR}/${name}`;
  const r = await runner.exec(
    script(
      "set -eu",
      sh`mkdir -p ${WORK_DIR}`,
      sh`chmod 700 ${WORK_DIR}`,
      // removed on every way out: the end, a failure (set -e), or the run stopping it
      sh`trap ${sh`rm -f ${path}`} EXIT`,
      "trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM",
      sh`(umask 077 && cat > ${path})`,
      command(path),
      o.ca ? sh`printf '\\n%s\\n' ${CA_MARK}; cat /etc/kubernetes/pki/ca.crt` : undefined,
      o.adminConf ? sh`printf '\\n%s\\n' ${ADMIN_CONF_MARK}; cat /etc/kubernetes/admin.conf` : undefined,
    ),
    { sudo: true, stdin: content, label: o.label, secrets: o.secrets, ...(o.adminConf ? { secretStdoutAfter: ADMIN_CONF_MARK } : {}) },
  );
  let out = r.stdout;
  let adminConf: string | undefined;
  if (o.adminConf) {
    const at = out.lastIndexOf(`\n${ADMIN_CONF_MARK}\n`);
    if (at < 0) throw new CommandError(runner.host, o.label, r.code, "no admin.conf after its output", `'${o.label}'`);
    adminConf = out.slice(at + ADMIN_CONF_MARK.length + 2);
    out = out.slice(0, at);
  }
  if (!o.ca) return { stdout: out, ...(adminConf !== undefined ? { adminConf } : {}) };
  const at = out.lastIndexOf(`\n${CA_MARK}\n`);
  if (at < 0) throw new CommandError(runner.host, o.label, r.code, "no CA certificate after its output", `'${o.label}'`);
  return { stdout: out.slice(0, at), ca: out.slice(at + CA_MARK.length + 2), ...(adminConf !== undefined ? { adminConf } : {}) };
}

/**
 * A control plane's keepalived Steps for the API VIP, or undefined when the endpoint is not a VIP.
 * authPass: the VRRP password (read for VRRPv2 only).
 */
export function apiVipSteps(ctx: ClusterContext, h: ClusterHost, authPass: string | undefined): Step[] | undefined {
  const cpe = ctx.model.inventory.cluster.controlPlaneEndpoint;
  if (!cpe || !("vip" in cpe)) return undefined;
  const cps = ctx.model.controlPlanes;
  const i = cps.indexOf(h);
  return keepalivedSteps({
    packageManager: ctx.facts.get(h.name)!.packageManager as PackageManager,
    vip: cpe.vip,
    interface: cpe.interface,
    routerId: routerIdFor(ctx.model.name),
    // The first control plane holds the VIP while it is healthy; the spread stays below the check weight.
    priority: 150 - Math.min(i, 20) * 2,
    peers: cps.filter((x) => x !== h).map((x) => x.nodeIP),
    self: h.nodeIP,
    vrrpVersion: cpe.vrrpVersion ?? 3,
    ...(authPass !== undefined ? { authPass } : {}),
    ...(cpe.advertInt !== undefined ? { advertInt: cpe.advertInt } : {}),
    ...(cpe.unicast === false ? { unicast: false } : {}),
    healthCheck: APISERVER_CHECK_SCRIPT,
    ...(cpe.port ? { apiserverPort: cpe.port } : {}),
  });
}

export const controlPlaneEndpoint: Phase<ClusterContext> = {
  title: "control-plane endpoint (keepalived VIP)",
  shouldRun(ctx) {
    return ctx.model.endpoint.kind === "vip" || `endpoint is ${ctx.model.endpoint.kind === "first" ? "the first control plane" : "an external load balancer"}`;
  },
  async run(ctx) {
    const cpe = ctx.model.inventory.cluster.controlPlaneEndpoint;
    if (!cpe || !("vip" in cpe)) return;
    // VRRPv3 (the default) has no authentication: the VRRP password is only read for version 2.
    const version = cpe.vrrpVersion ?? 3;
    const authPass = version === 2 ? loadClusterSecrets(ctx.stateDir, ctx.model.name, { create: !ctx.dryRun }).vrrpPass : undefined;
    await forHosts(ctx, ctx.model.controlPlanes, async (h) => {
      const steps = apiVipSteps(ctx, h, authPass)!;
      // probed with the host's prepare steps when nothing changed on it since (phases/steps.ts)
      const probed = probedAhead(ctx, h.name, steps);
      const n = (await applySteps(ctx, h.name, await ctx.runner(h.name), steps, probed ? { probed } : {})).filter(Boolean).length;
      return n ? undefined : "already in place";
    });
  },
};

/** The kubeadm version installed on a host, e.g. v1.33.5 (falls back to the inventory's version). */
async function installedVersion(ctx: ClusterContext, h: ClusterHost): Promise<string> {
  const r = await (await ctx.runner(h.name)).exec("kubeadm version -o short", { allowFailure: true, label: "kubeadm version" });
  const v = r.stdout.trim().replace(/^v/, "");
  return r.code === 0 && /^\d+\.\d+\.\d+$/.test(v) ? v : ctx.model.inventory.cluster.kubernetesVersion;
}

/** --limit without the leader cannot init (or repair an init on) it: the run stops before any change. */
function initOutsideLimit(ctx: ClusterContext, what: string): void {
  const first = ctx.model.first.name;
  if (!ctx.limit || ctx.limit.has(first)) return;
  throw new UsageError(`--limit leaves out ${first}, but ${what}: ${[...ctx.limit].join(", ")} cannot join a cluster that does not answer`, {
    hint: `include ${first} in --limit, or run 'kubesmith up' without --limit`,
  });
}

export const kubeadmInit: Phase<ClusterContext> = {
  title: "kubeadm init on the first control plane",
  async shouldRun(ctx) {
    // Never a second init: any control plane kubeadm set up means the cluster exists (the others join it).
    const setUp = ctx.model.controlPlanes.filter((h) => ctx.joined.has(h.name)).map((h) => h.name);
    if (setUp.length === 0) {
      initOutsideLimit(ctx, "the cluster does not exist yet (no control plane is set up by kubeadm)");
      return true;
    }
    const exists = `the cluster exists (${setUp.join(", ")} ${setUp.length > 1 ? "are" : "is"} set up by kubeadm)`;
    const first = ctx.model.first;
    // Only the leader is set up and nothing has joined it: that may be an init cut off halfway (the API
    // server's manifest written, the cluster never answering). Decide from what the cluster says.
    const others = ctx.model.hosts.some((h) => h !== first && ctx.joined.has(h.name));
    // Others joined: their cluster must answer, or the run stops saying what to do (phases/reach.ts)
    if (others && ctx.joined.has(first.name)) await requireLiveApi(ctx);
    if (others || !ctx.joined.has(first.name) || (await initFinished(ctx))) return exists;
    initOutsideLimit(ctx, `${first.name}'s kubeadm init did not finish (its cluster does not answer with its Node)`);
    ctx.reporter.emit({
      kind: "warning",
      host: first.name,
      message: `${first.name} is set up by kubeadm but its cluster does not answer with its Node (an init cut off halfway?), and nothing has joined it: resetting it and running kubeadm init again`,
    });
    return true;
  },
  async run(ctx) {
    const h = ctx.model.first;
    const inv = ctx.model.inventory;
    // an init makes a new admin.conf: the one read with the lock is stale from here on
    if (ctx.prefetched) ctx.prefetched = { host: ctx.prefetched.host, facts: ctx.prefetched.facts };
    if (ctx.joined.has(h.name)) {
      await change(ctx, h.name, "repair: kubeadm reset (kubeadm init did not finish: the API does not answer with this Node)", async () => {
        await (await ctx.runner(h.name)).exec("kubeadm reset -f", { sudo: true, label: "kubeadm reset (half-done init)" });
        ctx.joined.delete(h.name);
      });
    }
    const ep = ctx.model.endpoint;
    const token = randomToken();
    const certificateKey = randomBytes(32).toString("hex");
    await change(ctx, h.name, `kubeadm init (endpoint ${endpointString(ep)}, pods ${inv.cluster.podCIDR}, services ${inv.cluster.serviceCIDR})`, async () => {
      const runner = await ctx.runner(h.name);
      const config = kubeadmInitConfig({
        nodeName: h.name,
        nodeIP: h.nodeIP,
        kubernetesVersion: await installedVersion(ctx, h),
        advertiseAddress: h.nodeIP,
        controlPlaneEndpoint: endpointString(ep),
        podSubnet: inv.cluster.podCIDR,
        serviceSubnet: inv.cluster.serviceCIDR,
        certSANs: [ep.host, ...ctx.model.controlPlanes.flatMap((c) => [c.address, c.nodeIP, c.name])],
        clusterName: inv.cluster.name,
        bootstrapToken: token,
        certificateKey,
        ...(taintsOf(h) ? { taints: taintsOf(h)! } : {}),
        ...(inv.offline?.imageRepository ? { imageRepository: inv.offline.imageRepository } : {}),
      });
      const secrets = [token, certificateKey];
      const { ca, adminConf } = await withSecretFile(runner, "kubeadm-init.yaml", config, kubeadmInitCommand, { label: "kubeadm init", secrets, ca: true, adminConf: true });
      ctx.join = { token, certificateKey, caCertHash: caCertHash(ca!) };
      // the admin.conf this init made, for the API connection that follows (phases/api.ts ensureKube)
      ctx.prefetched = { host: h.name, facts: ctx.prefetched?.host === h.name ? ctx.prefetched.facts : "", adminConf: adminConf! };
      ctx.joined.add(h.name);
    });
  },
};

/**
 * Did kubeadm init finish on the leader? Yes when its admin.conf reaches an API that answers /readyz
 * (within a bound) and has the leader's Node. The connection is kept for the run when it does.
 */
async function initFinished(ctx: ClusterContext, readyTimeoutMs = 20_000): Promise<boolean> {
  if (ctx.kube) return (await ctx.kube.get("v1", "Node", ctx.model.first.name).catch(() => undefined)) !== undefined;
  let adminConf: string;
  try {
    adminConf = prefetchedAdminConf(ctx) ?? (await (await ctx.runner(ctx.model.first.name)).download("/etc/kubernetes/admin.conf", { sudo: true })).toString("utf8");
  } catch {
    return false;
  }
  let kube: Awaited<ReturnType<typeof connectKube>>;
  try {
    kube = await connectKube(ctx, adminConf, readyTimeoutMs);
  } catch {
    return false;
  }
  const node = await kube.get("v1", "Node", ctx.model.first.name).catch(() => undefined);
  if (!node) {
    kube.close();
    return false;
  }
  ctx.adminConf = adminConf;
  ctx.kube = kube;
  return true;
}

/** The token being made for a run: workers join in parallel and must share one token (and one file). */
const tokenInFlight = new WeakMap<ClusterContext, Promise<JoinSecrets>>();

/** A token (and, for control-plane joins, a fresh certificate key) when the cluster already existed. */
async function ensureJoinSecrets(ctx: ClusterContext, controlPlane: boolean): Promise<JoinSecrets> {
  const first = ctx.model.first;
  if (ctx.join && (!controlPlane || ctx.join.certificateKey)) return ctx.join;
  const runner = await ctx.runner(first.name);
  if (!ctx.join) {
    let pending = tokenInFlight.get(ctx);
    if (!pending) {
      // The token is made here and reaches the host only in a 0600 file (never argv), so it is known to
      // the log redaction before kubeadm echoes it back on stdout.
      pending = (async () => {
        const token = randomToken();
        const { ca } = await withSecretFile(runner, `kubeadm-token-${randomBytes(4).toString("hex")}.yaml`, joinTokenConfig(token), (path) => `kubeadm token create --config ${quote(path)}`, {
          label: "create a join token",
          secrets: [token],
          ca: true,
        });
        return { token, caCertHash: caCertHash(ca!) };
      })();
      tokenInFlight.set(ctx, pending);
      pending.catch(() => tokenInFlight.delete(ctx));
    }
    ctx.join ??= await pending;
  }
  if (controlPlane && !ctx.join.certificateKey) {
    const key = randomBytes(32).toString("hex");
    // The key goes in a 0600 config file, not on kubeadm's command line (argv shows in ps).
    const config = stringify({ apiVersion: KUBEADM_API, kind: "InitConfiguration", certificateKey: key });
    await withSecretFile(runner, "kubeadm-upload-certs.yaml", config, (path) => `kubeadm init phase upload-certs --upload-certs --config ${quote(path)}`, {
      secrets: [key],
      label: "upload control-plane certificates",
    });
    ctx.join.certificateKey = key;
  }
  return ctx.join;
}

async function joinHost(ctx: ClusterContext, h: ClusterHost, kind: "worker" | "control-plane"): Promise<string | undefined> {
  const runner = await ctx.runner(h.name);
  if (await isJoined(ctx, h, runner, kind)) {
    if (!(await missingFromCluster(ctx, h))) return "already joined";
    if (kind === "control-plane") {
      // Its etcd member may still be registered: resetting it here could cost quorum. Say so and leave it.
      ctx.reporter.emit({ kind: "warning", host: h.name, message: "set up by kubeadm but the cluster has no Node for it; repair it by hand (kubeadm reset, remove its etcd member, run up again)" });
      return "broken: no Node in the cluster";
    }
    await change(ctx, h.name, "repair: kubeadm reset (joined on the host, but the cluster has no Node for it)", async () => {
      await runner.exec("kubeadm reset -f", { sudo: true, label: "kubeadm reset (repair)" });
    });
  }
  if (kind === "control-plane") await removeStaleEtcdMember(ctx, h);
  await change(ctx, h.name, `kubeadm join as ${kind === "worker" ? "a worker" : "a control plane"} via ${endpointString(ctx.model.endpoint)}`, async () => {
    const s = await ensureJoinSecrets(ctx, kind === "control-plane");
    const config = kubeadmJoinConfig({
      kind,
      nodeName: h.name,
      nodeIP: h.nodeIP,
      apiServerEndpoint: endpointString(ctx.model.endpoint),
      token: s.token,
      caCertHashes: [s.caCertHash],
      ...(kind === "control-plane" ? { advertiseAddress: h.nodeIP, certificateKey: s.certificateKey! } : {}),
      ...(taintsOf(h) ? { taints: taintsOf(h)! } : {}),
    });
    const secrets = [s.token, ...(s.certificateKey ? [s.certificateKey] : [])];
    try {
      await withSecretFile(runner, "kubeadm-join.yaml", config, kubeadmJoinCommand, { label: `kubeadm join (${kind})`, secrets });
    } catch (err) {
      if (kind !== "control-plane" || !(err instanceof CommandError)) throw err;
      // A half-joined control plane would break etcd quorum on the next member: reset it and retry once.
      ctx.reporter.emit({ kind: "warning", host: h.name, message: `control-plane join failed (${err.oneLine()}); resetting and retrying once` });
      await runner.exec("kubeadm reset -f", { sudo: true, label: "kubeadm reset after a failed join" });
      await withSecretFile(runner, "kubeadm-join.yaml", config, kubeadmJoinCommand, { label: `kubeadm join (${kind}, retry)`, secrets });
    }
    ctx.joined.add(h.name);
  });
  return undefined;
}

/**
 * A host kubeadm set up earlier whose Node the cluster does not have (deleted, or a join that never
 * registered). Unknown (no API yet, e.g. in a dry run of a new cluster) counts as not missing.
 */
async function missingFromCluster(ctx: ClusterContext, h: ClusterHost): Promise<boolean> {
  if (!ctx.joined.has(ctx.model.first.name)) return false;
  try {
    const kube = await ensureKube(ctx);
    return (await kube.get("v1", "Node", h.name)) === undefined;
  } catch {
    return false;
  }
}

/**
 * Joins go through the control-plane endpoint: right after kubeadm init the VIP may not answer yet (a
 * join 40 ms after init was refused in 2 of 11 lab runs). When a host still has to join, wait until the
 * API answers /readyz through the endpoint (connectKube retries refused and reset connections).
 */
async function apiReadyBeforeJoins(ctx: ClusterContext, hosts: ClusterHost[]): Promise<void> {
  if (ctx.dryRun || !ctx.joined.has(ctx.model.first.name) || hosts.every((h) => ctx.joined.has(h.name))) return;
  await ensureKube(ctx);
}

export const joinControlPlanes: Phase<ClusterContext> = {
  title: "join the other control planes, one at a time",
  shouldRun(ctx) {
    return ctx.model.controlPlanes.length > 1 || "one control plane";
  },
  async run(ctx) {
    // One at a time: each new etcd member must be in before the next one joins.
    const others = ctx.model.controlPlanes.filter((h) => h !== ctx.model.first);
    await apiReadyBeforeJoins(ctx, others);
    await forHosts(ctx, others, (h) => joinHost(ctx, h, "control-plane"), { concurrency: 1 });
  },
};

export const joinWorkers: Phase<ClusterContext> = {
  title: "join the workers",
  shouldRun(ctx) {
    return ctx.model.workers.length > 0 || "no workers";
  },
  async run(ctx) {
    await apiReadyBeforeJoins(ctx, ctx.model.workers);
    await forHosts(ctx, ctx.model.workers, (h) => joinHost(ctx, h, "worker"));
  },
};
