// kubeadm upgrade, played: `upgrade plan`, `upgrade apply vX.Y.Z` (the first control plane) and `upgrade
// node` (the other control planes and the workers), and what the kubelet does when it is restarted after
// its package changed. Sources, each next to its rule (docs/lab-strictness.md lists them):
//   - kubeadm docs "Upgrading kubeadm clusters" (kubernetes.io/docs/tasks/administer-cluster/kubeadm/kubeadm-upgrade/):
//     kubeadm first, `upgrade plan`/`apply` on one control plane, `upgrade node` on the others and the workers,
//     then kubelet and kubectl and a kubelet restart; "Skipping MINOR versions when upgrading is unsupported".
//   - cmd/kubeadm/app/phases/upgrade/policy.go EnforceVersionPolicies (the "Specified version to upgrade to …"
//     refusals; MaximumAllowedMinorVersionUpgradeSkew = 1) and cmd/kubeadm/app/cmd/upgrade/common.go
//     enforceVersionPolicies ("the version argument is invalid due to these fatal errors: …").
//   - the version skew policy (kubernetes.io/releases/version-skew-policy/): "kubelet must not be newer than
//     kube-apiserver".
// The cluster's version is the lab's cluster.json `version` (what kubeadm reads from the kubeadm-config
// ConfigMap's ClusterConfiguration.kubernetesVersion); `upgrade apply` moves it, rewrites this host's
// static Pod manifests, updates kube-system/kubeadm-config and the store's /version (its version file).
import { renewRecordedCerts } from "./kubeadm-certs.js";
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { apiRequest, credentialsFromKubeconfig } from "../apisim/nodes.js";
import { liveFront, probe, splitHostPort } from "./apiserver.js";
import { minorOf } from "./kubeadm-config.js";
import { K8S_MINORS } from "./repos.js";
import { k8sVersion } from "./system.js";
import { fail, flag, parseArgs, readJson, writeFile, writeJson, type Sim } from "./util.js";

const K = "/etc/kubernetes";
const STACK_HINT = "To see the stack trace of this error execute with --v=5 or higher";
const COMPONENTS = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"];

/** The store's /version reads this file in the lab's cluster directory (apisim --version-file). */
export const VERSION_FILE = "kube-version";

interface ClusterJson {
  version: string;
  api?: { url: string };
  endpoint: string;
}

const clusterFile = (sim: Sim) => path.join(sim.clusterDir, "cluster.json");

function cluster(sim: Sim): ClusterJson {
  const c = readJson<ClusterJson | undefined>(clusterFile(sim), undefined);
  // kubeadm reads the kubeadm-config ConfigMap first; without a cluster that fails like this
  if (!c) fail(1, `[upgrade/config] FATAL: failed to get config map: configmaps "kubeadm-config" not found\n${STACK_HINT}`);
  return c;
}

interface Semver {
  major: number;
  minor: number;
  patch: number;
  pre: string;
}

function parseVersion(v: string): Semver | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/.exec(v.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ?? "" } : undefined;
}

function less(a: Semver, b: Semver): boolean {
  if (a.major !== b.major) return a.major < b.major;
  if (a.minor !== b.minor) return a.minor < b.minor;
  return a.patch < b.patch;
}

/**
 * cmd/kubeadm/app/phases/upgrade/policy.go EnforceVersionPolicies, the rules that apply to released
 * versions: mandatory (fatal) and skippable (--force) errors, with upstream's wording.
 */
export function versionPolicyErrors(clusterVersion: string, kubeadmVersion: string, target: string): { mandatory: string[]; skippable: string[] } {
  const mandatory: string[] = [];
  const skippable: string[] = [];
  const c = parseVersion(clusterVersion);
  const k = parseVersion(kubeadmVersion);
  const n = parseVersion(target);
  if (!c || !k || !n) return { mandatory: [`couldn't parse the versions (cluster ${clusterVersion}, kubeadm ${kubeadmVersion}, target ${target})`], skippable };
  const released = n.pre === "";
  if (n.minor > c.minor + 1) {
    (released ? mandatory : skippable).push(`Specified version to upgrade to "${target}" is too high; kubeadm can upgrade only 1 minor version at a time`);
  }
  if (n.minor < c.minor - 1) {
    (released ? mandatory : skippable).push(`Specified version to downgrade to "${target}" is too low; kubeadm can downgrade only 1 minor version at a time`);
  }
  if (less(k, n)) {
    if (n.minor > k.minor) {
      (released ? mandatory : skippable).push(`Specified version to upgrade to "${target}" is at least one minor release higher than the kubeadm minor release (${n.minor} > ${k.minor}). Such an upgrade is not supported`);
    } else {
      skippable.push(`Specified version to upgrade to "${target}" is higher than the kubeadm version "${kubeadmVersion}". Upgrade kubeadm first using the tool you used to install kubeadm`);
    }
  }
  if (k.major > n.major || k.minor > n.minor) {
    skippable.push(`Kubeadm version ${kubeadmVersion} can only be used to upgrade to Kubernetes version ${k.major}.${k.minor}`);
  }
  return { mandatory, skippable };
}

const formatErrs = (errs: string[]) => errs.map((e) => `\t- ${e}\n`).join("");

function requireControlPlane(): void {
  // kubeadm upgrade plan/apply load admin.conf for their client (cmd/kubeadm/app/cmd/upgrade/common.go)
  if (!existsSync(`${K}/admin.conf`)) {
    fail(1, `[upgrade/config] FATAL: couldn't create a Kubernetes client from file "${K}/admin.conf": failed to load admin kubeconfig: open ${K}/admin.conf: no such file or directory\n${STACK_HINT}`);
  }
}

/** Rewrite the control-plane static Pod manifests' image tags to `version` (kubeadm's upgrade/staticpods phase). */
function upgradeStaticPods(sim: Sim, version: string): void {
  for (const c of COMPONENTS) {
    const file = `${K}/manifests/${c}.yaml`;
    if (!existsSync(file)) continue;
    const text = readFileSync(file, "utf8").replace(new RegExp(`(/${c}):v[0-9][0-9A-Za-z.+-]*`, "g"), `$1:${version}`);
    writeFile(file, text);
    sim.out(`[upgrade/staticpods] Moving new manifest to "${file}" and backing up old manifest to "${K}/tmp/kubeadm-backup-manifests/${c}.yaml"\n[upgrade/staticpods] Component "${c}" upgraded successfully!\n`);
  }
}

/** The version this host's kube-apiserver manifest runs (its image tag), or undefined on a worker. */
export function staticPodVersion(): string | undefined {
  try {
    return /\/kube-apiserver:(v[0-9][0-9A-Za-z.+-]*)/.exec(readFileSync(`${K}/manifests/kube-apiserver.yaml`, "utf8"))?.[1];
  } catch {
    return undefined;
  }
}

/** kube-system/kubeadm-config's kubernetesVersion, as `upgrade apply` re-uploads it (phases/uploadconfig). */
async function uploadClusterVersion(c: ClusterJson, version: string): Promise<void> {
  const creds = credentialsFromKubeconfig(`${K}/admin.conf`);
  if (c.api?.url) creds.server = c.api.url;
  const p = "/api/v1/namespaces/kube-system/configmaps/kubeadm-config";
  const r = await apiRequest(creds, "GET", p);
  if (r.status !== 200) throw new Error(`configmaps "kubeadm-config": HTTP ${r.status}`);
  const data = ((r.body as { data?: Record<string, string> }).data ?? {}) as Record<string, string>;
  const cc = (parseYaml(data["ClusterConfiguration"] ?? "") ?? {}) as Record<string, unknown>;
  cc["kubernetesVersion"] = version;
  const w = await apiRequest(creds, "PATCH", p, { data: { ClusterConfiguration: stringifyYaml(cc) } }, "application/merge-patch+json");
  if (w.status >= 300) throw new Error(`configmaps "kubeadm-config": HTTP ${w.status}`);
}

/** The newest patch pkgs.k8s.io serves of a minor ("1.36" → "v1.36.3"), as `upgrade plan` finds it on dl.k8s.io. */
function newestPatch(minor: string): string | undefined {
  const p = K8S_MINORS[minor];
  return p === undefined ? undefined : `v${minor}.${p}`;
}

function plan(sim: Sim): number {
  requireControlPlane();
  const c = cluster(sim);
  const kubeadmVersion = k8sVersion("kubeadm");
  sim.out(`[preflight] Running pre-flight checks.\n[upgrade/config] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...\n[upgrade] Running cluster health checks\n[upgrade] Fetching available versions to upgrade to\n[upgrade/versions] Cluster version: ${c.version}\n[upgrade/versions] kubeadm version: ${kubeadmVersion}\n`);
  // dl.k8s.io is out of reach in the lab: kubeadm then offers what it knows, up to its own version
  const cm = minorOf(c.version);
  const km = minorOf(kubeadmVersion);
  const candidates = [newestPatch(`1.${cm}`), km > cm ? kubeadmVersion : undefined].filter((v): v is string => !!v);
  const target = candidates.filter((v) => less(parseVersion(c.version)!, parseVersion(v)!) && !less(parseVersion(kubeadmVersion)!, parseVersion(v)!)).pop();
  if (!target) {
    sim.out("\nAwesome, you're up-to-date! Enjoy!\n");
    return 0;
  }
  sim.out(
    `\nUpgrade to the latest stable version:\n\nCOMPONENT                 NODE   CURRENT   TARGET\n${COMPONENTS.map((x) => `${x.padEnd(25)} ${sim.host.padEnd(6)} ${c.version.padEnd(9)} ${target}`).join("\n")}\n\nYou can now apply the upgrade by executing the following command:\n\n\tkubeadm upgrade apply ${target}\n\n`,
  );
  return 0;
}

/**
 * `kubeadm upgrade apply|node` renews the certificates kubeadm manages on a control plane unless
 * `--certificate-renewal=false` (kubeadm docs "Certificate Management with kubeadm", Automatic certificate
 * renewal: "kubeadm renews all the certificates during control plane upgrade"; kubeadm upgrade flags).
 */
function renewOnUpgrade(sim: Sim, flags: Map<string, string[]>): void {
  if (flags.get("certificate-renewal")?.at(-1) === "false") return;
  const renewed = renewRecordedCerts(sim);
  if (renewed.length) sim.out(`[upgrade/staticpods] Renewing certificates: ${renewed.join(", ")}\n`);
}

async function apply(sim: Sim, args: string[]): Promise<number> {
  const { flags, pos: positional } = parseArgs(args, ["y", "yes", "f", "force", "dry-run", "allow-experimental-upgrades", "allow-release-candidate-upgrades"]);
  if (!sim.isRoot) fail(1, `error execution phase preflight: user is not running as root\n${STACK_HINT}`);
  const target0 = positional[0] ?? flag(flags, "version");
  // kubeadm upgrade apply takes the version as its argument (or from an UpgradeConfiguration file)
  if (!target0) fail(1, `error execution phase preflight: missing one or more required arguments; the version to upgrade to must be given\n${STACK_HINT}`);
  const target = target0.startsWith("v") ? target0 : `v${target0}`;
  requireControlPlane();
  const c = cluster(sim);
  const kubeadmVersion = k8sVersion("kubeadm");
  sim.out(`[upgrade] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...\n[upgrade/preflight] Running preflight checks\n[upgrade] Running cluster health checks\n[upgrade/preflight] You have chosen to upgrade the cluster version to "${target}"\n[upgrade/versions] Cluster version: ${c.version}\n[upgrade/versions] kubeadm version: ${kubeadmVersion}\n`);
  if (!parseVersion(target)) fail(1, `error execution phase preflight: unable to parse normalized version "${target}" as a semantic version\n${STACK_HINT}`);
  // cmd/kubeadm/app/cmd/upgrade/common.go enforceVersionPolicies
  const { mandatory, skippable } = versionPolicyErrors(c.version, kubeadmVersion, target);
  if (mandatory.length) {
    fail(1, `error execution phase preflight: the version argument is invalid due to these fatal errors:\n\n${formatErrs(mandatory)}\nPlease fix the misalignments highlighted above and try upgrading again\n${STACK_HINT}`);
  }
  const force = flags.has("f") || flags.has("force");
  if (skippable.length && !force) {
    fail(1, `error execution phase preflight: the version argument is invalid due to these errors:\n\n${formatErrs(skippable)}\nCan be bypassed if you pass the --force flag\n${STACK_HINT}`);
  }
  if (skippable.length) sim.out(`[upgrade/version] Found ${skippable.length} potential version compatibility errors but skipping since the --force flag is set: \n\n${formatErrs(skippable)}`);
  if (!(flags.has("y") || flags.has("yes") || force)) {
    sim.out("[upgrade] Are you sure you want to proceed? [y/N]: ");
    const answer = sim.stdin().split("\n")[0]?.trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") fail(1, `error execution phase preflight: won't proceed; the user didn't answer (Y|n) in order to continue\n${STACK_HINT}`);
  }
  if (flags.has("dry-run")) {
    sim.out(`[dryrun] Finished dryrunning successfully!\n`);
    return 0;
  }
  sim.out(`[upgrade/control-plane] Upgrading your static Pod-hosted control plane to version "${target}" (timeout: 5m0s)...\n`);
  upgradeStaticPods(sim, target);
  renewOnUpgrade(sim, flags);
  try {
    await uploadClusterVersion(c, target);
  } catch (e) {
    fail(1, `error execution phase upload-config/kubeadm: ${(e as Error).message}\n${STACK_HINT}`);
  }
  writeJson(clusterFile(sim), { ...readJson<Record<string, unknown>>(clusterFile(sim), {}), version: target });
  writeFile(path.join(sim.clusterDir, VERSION_FILE), `${target}\n`);
  sim.out(`[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the "kube-system" Namespace\n[kubelet] Creating a ConfigMap "kubelet-config" in namespace kube-system with the configuration for the kubelets in the cluster\n[upgrade/kubelet-config] The kubelet configuration for this node was successfully upgraded!\n[addons] Applied essential addon: CoreDNS\n[addons] Applied essential addon: kube-proxy\n\n[upgrade] SUCCESS! A control plane node of your cluster was upgraded to "${target}".\n\n[upgrade] Now please proceed with upgrading the rest of the nodes by following the right order.\n`);
  return 0;
}

/**
 * `kubeadm upgrade node`: a control plane's static Pods go to the cluster's version (kubeadm-config's
 * kubernetesVersion, not kubeadm's own); every node gets the kubelet configuration. Upstream does not
 * refuse it before `upgrade apply` ran: the node then stays at the cluster's (old) version, and the
 * kubelet restarted after a newer package is what the skew rule stops (kubeletRestarted below).
 */
function node(sim: Sim, args: string[]): number {
  const { flags } = parseArgs(args, ["dry-run", "skip-phases"]);
  if (!sim.isRoot) fail(1, `error execution phase preflight: user is not running as root\n${STACK_HINT}`);
  if (!existsSync(`${K}/kubelet.conf`)) {
    fail(1, `[upgrade] FATAL: failed to load kubeconfig: open ${K}/kubelet.conf: no such file or directory\n${STACK_HINT}`);
  }
  const c = cluster(sim);
  const controlPlane = existsSync(`${K}/manifests/kube-apiserver.yaml`);
  sim.out(`[upgrade] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...\n[upgrade/preflight] Running pre-flight checks\n`);
  if (controlPlane) {
    const kubeadmVersion = parseVersion(k8sVersion("kubeadm"));
    const cv = parseVersion(c.version);
    // a kubeadm older than the cluster's minor cannot write that minor's manifests (policy.go's kubeadm rule)
    if (kubeadmVersion && cv && cv.minor > kubeadmVersion.minor) {
      fail(1, `error execution phase control-plane: the version argument is invalid due to these fatal errors:\n\n${formatErrs([`Specified version to upgrade to "${c.version}" is at least one minor release higher than the kubeadm minor release (${cv.minor} > ${kubeadmVersion.minor}). Such an upgrade is not supported`])}\nPlease fix the misalignments highlighted above and try upgrading again\n${STACK_HINT}`);
    }
    sim.out(`[upgrade/control-plane] Upgrading your Static Pod-hosted control plane instance to version "${c.version}"...\n`);
    upgradeStaticPods(sim, c.version);
    renewOnUpgrade(sim, flags);
    sim.out("[upgrade/control-plane] The control plane instance for this node was successfully upgraded!\n");
  } else {
    sim.out("[upgrade/preflight] Skipping prepull. Not a control plane node.\n[upgrade/control-plane] Skipping phase. Not a control plane node.\n[upgrade/kubeconfig] Skipping phase. Not a control plane node.\n");
  }
  writeFile("/var/lib/kubelet/config.yaml", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\n");
  sim.out(`[kubelet-start] Writing kubelet configuration to file "/var/lib/kubelet/config.yaml"\n[upgrade/kubelet-config] The kubelet configuration for this node was successfully upgraded!\n`);
  if (!controlPlane) sim.out("[upgrade/addon] Skipping the addon/coredns phase. Not a control plane node.\n[upgrade/addon] Skipping the addon/kube-proxy phase. Not a control plane node.\n");
  return 0;
}

export function kubeadmUpgrade(sim: Sim, args: string[]): number | Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "plan") return plan(sim);
  if (sub === "apply") return apply(sim, rest);
  if (sub === "node") return node(sim, rest);
  fail(1, `kubeadm upgrade ${sub ?? ""}: not simulated (plan, apply, node)`);
}

/**
 * The kubelet started or restarted on a host that joined a cluster (kubelet.conf): it reports its version
 * in its Node's status.nodeInfo (kubeletVersion, kubeProxyVersion), as a kubelet does at every start.
 * Version skew policy (kubernetes.io/releases/version-skew-policy/#kubelet): "kubelet must not be newer
 * than kube-apiserver". Upstream does not enforce it at start; the lab does, stricter on purpose (listed in
 * docs/lab-strictness.md): such a kubelet fails to start and its Node keeps the old version. Returns the
 * failure's message, or undefined.
 */
export async function kubeletRestarted(sim: Sim): Promise<string | undefined> {
  if (!existsSync(`${K}/kubelet.conf`)) return undefined;
  const c = readJson<ClusterJson | undefined>(clusterFile(sim), undefined);
  if (!c) return undefined;
  const kubelet = k8sVersion("kubelet");
  const api = versionServed(sim) ?? c.version;
  if (minorOf(kubelet) > minorOf(api)) {
    return `kubelet ${kubelet} is newer than kube-apiserver ${api}: the version skew policy says "kubelet must not be newer than kube-apiserver" (kubernetes.io/releases/version-skew-policy); upgrade the control plane first (lab rule)`;
  }
  let creds;
  try {
    creds = credentialsFromKubeconfig(`${K}/kubelet.conf`);
  } catch {
    return undefined;
  }
  const cn = /CN=system:node:([^\n,]+)/.exec(new X509Certificate(creds.cert).subject)?.[1];
  if (!cn) return undefined;
  // the endpoint (a VIP) when it answers, else a control plane whose front runs (as kubeadm join does here)
  const ep = new URL(creds.server);
  const target = splitHostPort(`${ep.hostname}:${ep.port || "443"}`);
  if ((await probe(target.host, target.port, 1000)) !== "ok") {
    const front = liveFront(sim);
    if (!front) return undefined;
    creds.server = `https://${front.address}:${front.port}`;
  }
  const r = await apiRequest(creds, "PATCH", `/api/v1/nodes/${encodeURIComponent(cn)}/status`, { status: { nodeInfo: { kubeletVersion: kubelet, kubeProxyVersion: kubelet } } }, "application/merge-patch+json").catch((e: Error) => ({ status: 0, body: e.message }));
  if (r.status >= 300 || r.status === 0) sim.err(`kubesim: the kubelet could not update node ${cn}'s status: ${JSON.stringify(r.body).slice(0, 200)}\n`);
  return undefined;
}

/** The version the store's /version serves (the version file kubeadm upgrade apply writes), if any. */
function versionServed(sim: Sim): string | undefined {
  try {
    return readFileSync(path.join(sim.clusterDir, VERSION_FILE), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
