// kubeadm, played: init, join, reset, token, init phase upload-certs, version, config images.
// Files under /etc/kubernetes are real (a real CA made with openssl, real client certificates);
// the cluster-wide facts (CA, tokens, certificate key, members) live in the lab's shared cluster
// directory so a join on one host can check a token made on another. The control plane is real enough
// to talk to: init starts the Kubernetes API simulator on this host (apiserver.ts), init and join register
// their Node through it, a control-plane join passes its port 6443 through to it, reset stops them.
import { execFileSync } from "node:child_process";
import { X509Certificate, createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { hostname } from "node:os";
import path from "node:path";
import { k8sVersion, sysctlValue } from "./system.js";
import { CONTAINERD_CONFIG, criDisabled, defaultConfig } from "./containerd.js";
import { installedVersion, upstream } from "./packages.js";
import { stopSimulatedUnit, unitState } from "./systemctl.js";
import { decodeKubeadmConfig, docOf, kubeadmApiSupport, minorOf, resolveKubernetesVersion } from "./kubeadm-config.js";
import { hardware, swapOn } from "./hardware.js";
import { defaultRouteAddress, kubeletDefaultNodeIP } from "./netinfo.js";
import { SimExit, fail, flag, parseArgs, readJson, resolveLocal, writeFile, writeJson, type Sim } from "./util.js";
import { stringify as stringifyYaml } from "yaml";
import { apiRequest, credentialsFromKubeconfig } from "../apisim/nodes.js";
import { liveFront, nodeSpec, probe, type ProbeResult, registerWithKubelet, splitHostPort, startDaemon, stopDaemon, stopHostControlPlane, storeSocket, withClusterLock, type ApiLocation } from "./apiserver.js";
import { loadEtcd, newEtcdCluster, newMemberId, quorumProblem, saveEtcd } from "./etcd.js";
import { kubeadmCerts, recordCerts } from "./kubeadm-certs.js";
import { withoutVerbosity } from "./kubeadm-version.js";
import { kubeadmUpgrade, VERSION_FILE } from "./kubeadm-upgrade.js";

const K = "/etc/kubernetes";
const PKI = `${K}/pki`;
const MANIFESTS = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"];
const TOKEN_RE = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;

interface ClusterInfo {
  id: string;
  endpoint: string; // host:port
  controlPlaneEndpoint?: string;
  version: string;
  initHost: string;
  caHash: string;
  podCIDR?: string;
  serviceCIDR: string;
  createdAt: string;
  /** The API simulator started by init (on the init host, all addresses, this port). */
  api?: ApiLocation;
}
interface TokenRec {
  id: string;
  secret: string;
  expires: string;
  createdOn: string;
}
interface NodeRec {
  host: string;
  address: string;
  controlPlane: boolean;
  joinedAt: string;
}

const clusterFile = (sim: Sim) => path.join(sim.clusterDir, "cluster.json");
const loadCluster = (sim: Sim) => readJson<ClusterInfo | undefined>(clusterFile(sim), undefined);
const nodesDir = (sim: Sim) => path.join(sim.clusterDir, "nodes");
const tokensDir = (sim: Sim) => path.join(sim.clusterDir, "tokens");

export function caHashOf(pem: string): string {
  const der = new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
  return `sha256:${createHash("sha256").update(der).digest("hex")}`;
}

function openssl(args: string[], input?: string): string {
  return execFileSync("openssl", args, { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
}

function randomToken(): string {
  const chars = "abcdefghijklmnopqrstuvwxyz0123456789";
  const pick = (n: number) => Array.from(randomBytes(n), (b) => chars[b % chars.length]).join("");
  return `${pick(6)}.${pick(16)}`;
}

function saveToken(sim: Sim, token: string, ttlSeconds = 86400): void {
  const [id, secret] = token.split(".") as [string, string];
  const rec: TokenRec = { id, secret, expires: new Date(Date.now() + ttlSeconds * 1000).toISOString(), createdOn: sim.host };
  writeJson(path.join(tokensDir(sim), `${id}.json`), rec, 0o600);
}

function parseTtl(s: string | undefined): number {
  if (!s) return 86400;
  let total = 0;
  for (const m of s.matchAll(/(\d+)(h|m|s)/g)) total += Number(m[1]) * (m[2] === "h" ? 3600 : m[2] === "m" ? 60 : 1);
  return total === 0 ? 10 * 365 * 86400 : total; // ttl 0 = never expires
}

function kubeconfig(server: string, caPem: string, user: string, certPem: string, keyPem: string, cluster = "kubernetes"): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: ${b64(caPem)}
    server: https://${server}
  name: ${cluster}
contexts:
- context:
    cluster: ${cluster}
    user: ${user}
  name: ${user}@${cluster}
current-context: ${user}@${cluster}
kind: Config
preferences: {}
users:
- name: ${user}
  user:
    client-certificate-data: ${b64(certPem)}
    client-key-data: ${b64(keyPem)}
`;
}

/**
 * A real client certificate signed by the cluster CA in `caDir` (EC P-256: quick), an X.509 v3 one with the
 * extensions kubeadm gives its client certificates (certs/certlist.go, pkiutil: key usage digital signature
 * and key encipherment, extended key usage client auth, not a CA). One openssl run: `req -x509 -CA`
 * (OpenSSL ≥ 3.0, as apisim/pki.ts's -copy_extensions) makes the key and signs it; the key and CSR, then
 * `x509 -req`, took two runs and ≈ 40 ms of CPU against ≈ 8 (issue 12: every join makes two of these).
 */
function clientCert(cn: string, org: string | undefined, caDir = PKI): { cert: string; key: string } {
  const tmp = path.join("/tmp", `kubesim-${process.pid}-${randomBytes(4).toString("hex")}`);
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  try {
    const key = path.join(tmp, "k.pem");
    // a random serial instead of -CAcreateserial: no ca.srl next to the CA (joins sign with the lab's shared CA at once)
    const serial = `0x${randomBytes(16).toString("hex").replace(/^[89a-f]/, "1")}`;
    const cert = openssl([
      "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
      "-subj", `/CN=${cn}${org ? `/O=${org}` : ""}`, "-CA", `${caDir}/ca.crt`, "-CAkey", `${caDir}/ca.key`, "-set_serial", serial,
      "-days", "365", "-sha256",
      "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "keyUsage=critical,digitalSignature,keyEncipherment", "-addext", "extendedKeyUsage=clientAuth",
    ]);
    return { cert, key: readFileSync(key, "utf8") };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function writeKubeconfig(file: string, server: string, cn: string, org?: string): void {
  const { cert, key } = clientCert(cn, org);
  writeFile(file, kubeconfig(server, readFileSync(`${PKI}/ca.crt`, "utf8"), cn, cert, key), 0o600);
}

/**
 * etcd's client certificate for health checks and etcdctl (kubeadm certs phase "etcd-healthcheck-client",
 * CN kube-etcd-healthcheck-client, in /etc/kubernetes/pki/etcd). The lab signs it with the cluster CA and
 * copies that as etcd/ca.crt; real kubeadm makes a separate etcd CA.
 */
function etcdPki(): void {
  writeFile(`${PKI}/etcd/ca.crt`, readFileSync(`${PKI}/ca.crt`), 0o644);
  const { cert, key } = clientCert("kube-etcd-healthcheck-client", undefined);
  writeFile(`${PKI}/etcd/healthcheck-client.crt`, cert, 0o644);
  writeFile(`${PKI}/etcd/healthcheck-client.key`, key, 0o600);
}

/** The store's serving certificate, where kube-apiserver's is on a control plane (one for every front). */
function copyServingCert(from: string): void {
  for (const [f, mode] of [["apiserver.crt", 0o644], ["apiserver.key", 0o600]] as const) {
    if (existsSync(path.join(from, f))) writeFile(`${PKI}/${f}`, readFileSync(path.join(from, f)), mode);
  }
}

function staticPod(name: string, version: string, address: string, sim: Sim): string {
  const image = name === "etcd" ? "registry.k8s.io/etcd:3.5.21-0" : `registry.k8s.io/${name}:${version}`;
  return `apiVersion: v1
kind: Pod
metadata:
  labels:
    component: ${name}
    tier: control-plane
  name: ${name}
  namespace: kube-system
  annotations:
    kubesmith.io/simulated-on: ${sim.host}
spec:
  hostNetwork: true
  containers:
  - name: ${name}
    image: ${image}
    command:
    - ${name}
    - --advertise-address=${address}
`;
}

/**
 * The API server's advertise address: the flag, else localAPIEndpoint.advertiseAddress, else the default-route
 * interface's address (kubeadm docs, InitConfiguration localAPIEndpoint.advertiseAddress: "If not set the
 * default network interface will be used"; cmd/kubeadm/app/util/config ChooseAPIServerBindAddress →
 * apimachinery ChooseHostInterface). A lab host on the bridge network has no default route, where real
 * kubeadm warns and falls back to 0.0.0.0: the lab takes the host's only address instead (a documented lenience).
 */
function hostAddress(sim: Sim, flags: Map<string, string[]>, cfg: ConfigFile): string {
  return flag(flags, "apiserver-advertise-address") ?? cfg.advertiseAddress ?? defaultRouteAddress() ?? sim.address();
}

/** The kubelet's InternalIP: nodeRegistration.kubeletExtraArgs node-ip, else as the kubelet finds it (netinfo.ts). */
function kubeletAddress(sim: Sim, cfg: ConfigFile, nodeName: string): string {
  return cfg.nodeIP ?? kubeletDefaultNodeIP(nodeName) ?? sim.address();
}

type Taint = { key: string; value?: string; effect: string };

interface ConfigFile {
  controlPlaneEndpoint?: string;
  certSANs?: string[];
  bindPort?: number;
  nodeName?: string;
  nodeIP?: string;
  /** undefined: kubeadm's default; [] = no taints at all. */
  taints?: Taint[];
  kubernetesVersion?: string;
  podSubnet?: string;
  serviceSubnet?: string;
  advertiseAddress?: string;
  certificateKey?: string;
  apiServerEndpoint?: string;
  token?: string;
  caCertHashes?: string[];
  unsafeSkipCAVerification?: boolean;
  /** JoinConfiguration.timeouts.discovery (v1beta4), a Go duration */
  discoveryTimeout?: string;
  controlPlane?: boolean;
  ignorePreflightErrors?: string[];
  imageRepository?: string;
  clusterName?: string;
  dnsDomain?: string;
  /** The KubeletConfiguration document as given (uploaded as kube-system/kubelet-config). */
  kubelet?: Record<string, unknown>;
  /** KubeletConfiguration.failSwapOn / failCgroupV1 (undefined: the kubelet's default, true). */
  failSwapOn?: boolean;
  failCgroupV1?: boolean;
  /** ResetConfiguration.force */
  force?: boolean;
}

/** kubeadm's constants.DiscoveryRetryInterval: the pause between two requests for cluster-info. */
const DISCOVERY_RETRY_MS = 5000;

const sleepMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A Go duration as kubeadm's config holds it ("5m0s", "30s", "1h", "1.5m", "250ms"); undefined parts count 0. */
export function goDurationMs(d: string): number {
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, "µs": 0.001, ns: 1e-6 };
  let ms = 0;
  for (const m of d.matchAll(/([\d.]+)(h|ms|m|s|us|µs|ns)/g)) ms += Number(m[1]) * unit[m[2]!]!;
  return ms;
}

/** A klog warning line as kubeadm prints it on stderr (`W1129 12:00:00.000000    1234 file.go:NN] …`). */
export function klogWarning(sim: Sim, where: string, msg: string): void {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const stamp = `${p(d.getMonth() + 1)}${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds() * 1000, 6)}`;
  sim.err(`W${stamp} ${String(process.pid).padStart(7)} ${where}] ${msg}\n`);
}

const STACK_HINT = "To see the stack trace of this error execute with --v=5 or higher";

/** Read and decode `--config FILE` as kubeadm of the installed version does (kubeadm-config.ts). */
function readConfig(sim: Sim, file: string | undefined, command: "init" | "join" | "reset"): ConfigFile {
  if (!file) return {};
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    fail(1, `unable to read config from "${file}" : open ${file}: no such file or directory`);
  }
  const decoded = decodeKubeadmConfig(text, { kubeadmVersion: k8sVersion("kubeadm"), command });
  const where = command === "init" ? "initconfiguration.go:332" : command === "join" ? "joinconfiguration.go:98" : "resetconfiguration.go:120";
  for (const w of decoded.warnings) klogWarning(sim, w.startsWith("your configuration file") ? "common.go:101" : where, w);
  if (decoded.error) fail(1, `${decoded.error}\n${STACK_HINT}`);
  const out: ConfigFile = {};
  const registration = (nr: Record<string, any> | undefined) => {
    if (!nr) return;
    if (typeof nr.name === "string") out.nodeName = nr.name;
    if (Array.isArray(nr.taints)) out.taints = nr.taints.map((t: Taint) => ({ key: t.key, effect: t.effect, ...(t.value !== undefined ? { value: t.value } : {}) }));
    // v1beta4: a list of {name, value}; v1beta3: a map
    const extra = nr.kubeletExtraArgs;
    const ip = Array.isArray(extra) ? extra.find((a: { name?: string }) => a?.name === "node-ip")?.value : extra?.["node-ip"];
    if (typeof ip === "string") out.nodeIP = ip;
  };
  const kubelet = docOf(decoded, "KubeletConfiguration");
  if (kubelet) out.kubelet = kubelet as Record<string, unknown>;
  if (typeof kubelet?.failSwapOn === "boolean") out.failSwapOn = kubelet.failSwapOn;
  if (typeof kubelet?.failCgroupV1 === "boolean") out.failCgroupV1 = kubelet.failCgroupV1;
  for (const doc of decoded.docs) {
    const d = doc.body as Record<string, any>;
    if (d.kind === "ResetConfiguration") {
      out.force = d.force === true;
      out.ignorePreflightErrors = d.ignorePreflightErrors;
    } else if (d.kind === "ClusterConfiguration") {
      if (typeof d.imageRepository === "string") out.imageRepository = d.imageRepository;
      if (typeof d.clusterName === "string") out.clusterName = d.clusterName;
      if (typeof d.networking?.dnsDomain === "string") out.dnsDomain = d.networking.dnsDomain;
      out.controlPlaneEndpoint = d.controlPlaneEndpoint;
      if (Array.isArray(d.apiServer?.certSANs)) out.certSANs = d.apiServer.certSANs.map(String);
      out.kubernetesVersion = d.kubernetesVersion;
      out.podSubnet = d.networking?.podSubnet;
      out.serviceSubnet = d.networking?.serviceSubnet;
    } else if (d.kind === "InitConfiguration") {
      out.advertiseAddress = d.localAPIEndpoint?.advertiseAddress;
      out.certificateKey = d.certificateKey;
      out.ignorePreflightErrors = d.nodeRegistration?.ignorePreflightErrors;
      registration(d.nodeRegistration);
      if (d.localAPIEndpoint?.bindPort !== undefined) out.bindPort = Number(d.localAPIEndpoint.bindPort);
      const t = d.bootstrapTokens?.[0]?.token;
      if (typeof t === "string") out.token = t;
    } else if (d.kind === "JoinConfiguration") {
      const bt = d.discovery?.bootstrapToken ?? {};
      out.apiServerEndpoint = bt.apiServerEndpoint;
      out.token = bt.token ?? d.discovery?.tlsBootstrapToken;
      out.caCertHashes = bt.caCertHashes;
      out.unsafeSkipCAVerification = bt.unsafeSkipCAVerification;
      if (typeof d.timeouts?.discovery === "string") out.discoveryTimeout = d.timeouts.discovery;
      out.ignorePreflightErrors = d.nodeRegistration?.ignorePreflightErrors;
      registration(d.nodeRegistration);
      if (d.controlPlane) {
        out.controlPlane = true;
        out.certificateKey = d.controlPlane.certificateKey;
        out.advertiseAddress = d.controlPlane.localAPIEndpoint?.advertiseAddress;
        if (d.controlPlane.localAPIEndpoint?.bindPort !== undefined) out.bindPort = Number(d.controlPlane.localAPIEndpoint.bindPort);
      }
    }
  }
  return out;
}

/** A preflight finding: kubeadm's check name, its message, and whether the check only warns. */
type Check = [name: string, message: string, warning?: boolean];

/**
 * Run preflight checks; errors not ignored fail like kubeadm does, warnings and ignored errors print as
 * `[WARNING Name]`. Source: cmd/kubeadm/app/preflight/checks.go RunChecks and the Error type; the output
 * of kubeadm 1.35 ("error: error execution phase preflight: preflight checks failed") differs from the
 * earlier one ("error execution phase preflight: [preflight] Some fatal errors occurred: …").
 */
function preflight(sim: Sim, checks: Check[], ignore: string[]): void {
  sim.out("[preflight] Running pre-flight checks\n");
  const ign = ignore.flatMap((s) => s.split(",")).map((s) => s.trim().toLowerCase());
  const errors = checks.filter((c) => !c[2]);
  const fatal = ign.includes("all") ? [] : errors.filter(([name]) => !ign.includes(name.toLowerCase()));
  for (const [name, msg] of checks) if (!fatal.some(([n]) => n === name)) sim.err(`\t[WARNING ${name}]: ${msg}\n`);
  if (!fatal.length) return;
  const list = fatal.map(([n, m]) => `\t[ERROR ${n}]: ${m}\n`).join("");
  const hint = "[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`\n";
  if (minorOf(k8sVersion("kubeadm")) >= 35) {
    throw new SimExit(1, `[preflight] Some fatal errors occurred:\n${list}${hint}error: error execution phase preflight: preflight checks failed\n${STACK_HINT}\n`);
  }
  throw new SimExit(1, `error execution phase preflight: [preflight] Some fatal errors occurred:\n${list}${hint}${STACK_HINT}\n`);
}

/** Is something listening on this TCP port in the host's network namespace (kubeadm's PortOpenCheck binds it)? */
function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    // 0.0.0.0, not kubeadm's dual-stack ":port": lab namespaces may have no IPv6. Only "address in use"
    // counts; any other failure to bind says nothing about the port.
    const srv = createServer();
    srv.once("error", (e: NodeJS.ErrnoException) => resolve(e.code === "EADDRINUSE"));
    srv.listen({ port, host: "0.0.0.0", exclusive: true }, () => srv.close(() => resolve(false)));
  });
}

async function portChecks(ports: number[], simulatedInUse: (port: number) => boolean): Promise<Check[]> {
  const out: Check[] = [];
  for (const port of ports) if (simulatedInUse(port) || (await portTaken(port))) out.push([`Port-${port}`, `Port ${port} is in use`]);
  return out;
}

/** The containerd version the host's package installed (upstream form), if any. */
function containerdVersion(): string | undefined {
  const v = installedVersion("containerd.io") ?? installedVersion("containerd");
  return v ? upstream(v) : undefined;
}

/** The pause image kubeadm of this minor uses. Source: cmd/kubeadm/app/constants/constants.go PauseVersion. */
export function kubeadmPauseVersion(minor: number): string {
  return minor >= 34 ? "3.10.1" : minor >= 31 ? "3.10" : "3.9";
}

/** containerd's sandbox (pause) image: from its config file, else its built-in default. */
function containerdSandboxImage(): string | undefined {
  let text: string | undefined;
  try {
    text = readFileSync(CONTAINERD_CONFIG, "utf8");
  } catch {
    /* built-in defaults */
  }
  const v = containerdVersion();
  if (text === undefined) {
    if (!v) return undefined;
    if (/^[2-9]\./.test(v)) return "registry.k8s.io/pause:3.10"; // containerd 2.x built-in default
    text = defaultConfig(v);
  }
  return /^\s*(?:sandbox_image|sandbox)\s*=\s*["']([^"']+)["']/m.exec(text)?.[1];
}

/** RFC 1123 subdomain, as kubeadm validates nodeRegistration.name (k8s.io/apimachinery IsDNS1123Subdomain). */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * kubeadm's config validation of the node name (cmd/kubeadm/app/apis/kubeadm/validation ValidateNodeRegistrationOptions):
 * fatal, before any preflight check. The default node name is the host name, lower-cased (GetHostname).
 */
function validateNodeName(name: string): void {
  const errs: string[] = [];
  if (name.length > 253) errs.push("must be no more than 253 characters");
  if (!DNS1123_SUBDOMAIN.test(name)) {
    errs.push(
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    );
  }
  if (errs.length) fail(1, `${errs.map((e) => `nodeRegistration.name: Invalid value: ${JSON.stringify(name)}: ${e}`).join("\n")}\n${STACK_HINT}`);
}

function defaultNodeName(sim: Sim): string {
  return (hostname() || sim.host).trim().toLowerCase();
}

/** Preflight checks that init and join share (checks.go InitNodeChecks/JoinNodeChecks and addCommonChecks). */
function commonChecks(sim: Sim, nodeName: string, controlPlane: boolean): Check[] {
  const errs: Check[] = [];
  const kubeadmMinor = minorOf(k8sVersion("kubeadm"));
  const kubeletMinor = minorOf(k8sVersion("kubelet"));
  const hw = hardware();
  if (!sim.isRoot) errs.push(["IsPrivilegedUser", "user is not running as root"]);
  if (controlPlane) {
    // checks.go NumCPUCheck (ControlPlaneNumCPU = 2) and checks_linux.go MemCheck (ControlPlaneMem = 1700 MB).
    if (hw.cpus < 2) errs.push(["NumCPU", `the number of available CPUs ${hw.cpus} is less than the required 2`]);
    if (hw.memoryMiB < 1700) errs.push(["Mem", `the system RAM (${hw.memoryMiB} MB) is less than the minimum 1700 MB`]);
  }
  // Docker's packaged config.toml turns the CRI plugin off: containerd runs, but kubeadm finds no runtime.
  if (!unitState(sim, "containerd").active || criDisabled()) {
    errs.push(["CRI", "container runtime is not running: output: time=\"now\" level=fatal msg=\"validate service connection: validate CRI v1 runtime API for endpoint \\\"unix:///var/run/containerd/containerd.sock\\\": rpc error: code = Unavailable desc = connection error\""]);
  } else {
    // kubeadm 1.35 warns when the runtime lacks the CRI RuntimeConfig method, which containerd has from 2.0
    // (KEP-4033; Kubernetes 1.35 is the last release to support containerd 1.x). An error is planned for
    // kubelet 1.38 (kubernetes/kubernetes PR #135923, not merged): the lab keeps it a warning.
    const cv = containerdVersion();
    if (kubeadmMinor >= 35 && cv && /^[01]\./.test(cv)) {
      errs.push(["ContainerRuntimeVersion", "You must update your container runtime to a version that supports the CRI method RuntimeConfig. Falling back to using cgroupDriver from kubelet config will be removed in 1.36. For more information, see https://git.k8s.io/enhancements/keps/sig-node/4033-group-driver-detection-over-cri", true]);
    }
  }
  // checks.go SwapCheck: a warning since the kubelet can run with swap (1.28+); the kubelet itself still
  // refuses to start with swap on unless failSwapOn is false (kubeletStarts below).
  if (swapOn(hw)) {
    errs.push(["Swap", "swap is supported for cgroup v2 only. The kubelet must be properly configured to use swap. Please refer to https://kubernetes.io/docs/concepts/architecture/nodes/#swap-memory, or disable swap on the node", true]);
  }
  // The bridge-nf-call-iptables check was removed in kubeadm 1.30 (kubernetes/kubernetes PR #123464).
  if (kubeadmMinor < 30) {
    const bnf = sysctlValue("net.bridge.bridge-nf-call-iptables");
    if (bnf === undefined) errs.push(["FileContent--proc-sys-net-bridge-bridge-nf-call-iptables", "/proc/sys/net/bridge/bridge-nf-call-iptables does not exist"]);
    else if (bnf !== "1") errs.push(["FileContent--proc-sys-net-bridge-bridge-nf-call-iptables", "/proc/sys/net/bridge/bridge-nf-call-iptables contents are not set to 1"]);
  }
  if (sysctlValue("net.ipv4.ip_forward") !== "1") {
    errs.push(["FileContent--proc-sys-net-ipv4-ip_forward", "/proc/sys/net/ipv4/ip_forward contents are not set to 1"]);
  }
  // SystemVerification, cgroups validator of k8s.io/system-validators v1.12.1 (kubernetes/kubernetes PR
  // #134744): cgroup v1 is an error for kubelet 1.35+, a warning before.
  if (hw.cgroup === "v1") {
    if (kubeletMinor >= 35) {
      errs.push(["SystemVerification", "cgroups v1 support is deprecated and will be removed in a future release. Please migrate to cgroups v2. To explicitly enable cgroups v1 support for kubelet v1.35 or newer, you must set the kubelet configuration option 'FailCgroupV1' to 'false'. You must also explicitly skip this validation. For more information, see https://git.k8s.io/enhancements/keps/sig-node/5573-remove-cgroup-v1"]);
    } else {
      errs.push(["SystemVerification", "cgroups v1 support is in maintenance mode, please migrate to cgroups v2", true]);
    }
  }
  // checks.go HostnameCheck: warnings only (the name's format is validated, fatally, before preflight).
  if (!resolveLocal(nodeName)) {
    let ns = "127.0.0.53";
    try {
      ns = /^nameserver\s+(\S+)/m.exec(readFileSync("/etc/resolv.conf", "utf8"))?.[1] ?? ns;
    } catch {
      /* none */
    }
    errs.push(["Hostname", `hostname "${nodeName}" could not be reached`, true], ["Hostname", `hostname "${nodeName}": lookup ${nodeName} on ${ns}:53: no such host`, true]);
  }
  return errs;
}

/** Image pull preflight of init and control-plane joins: the sandbox image warning (checks.go ImagePullCheck). */
function pullImages(sim: Sim, imageRepository: string | undefined): void {
  sim.out("[preflight] Pulling images required for setting up a Kubernetes cluster\n[preflight] This might take a minute or two, depending on the speed of your internet connection\n[preflight] You can also perform this action beforehand using 'kubeadm config images pull'\n");
  const want = `${imageRepository ?? "registry.k8s.io"}/pause:${kubeadmPauseVersion(minorOf(k8sVersion("kubeadm")))}`;
  const have = containerdSandboxImage();
  if (have && have !== want) {
    klogWarning(sim, "checks.go:906", `detected that the sandbox image "${have}" of the container runtime is inconsistent with that used by kubeadm. It is recommended to use "${want}" as the CRI sandbox image.`);
  }
}

/**
 * Does the kubelet kubeadm just configured start? It refuses swap unless failSwapOn is false, and (1.35+,
 * failCgroupV1 defaulting to true, kubernetes/kubernetes PR #134298) a cgroup v1 host unless failCgroupV1 is false.
 */
function kubeletSwitches(kubelet: Record<string, any>): Pick<ConfigFile, "failSwapOn" | "failCgroupV1"> {
  return {
    ...(typeof kubelet.failSwapOn === "boolean" ? { failSwapOn: kubelet.failSwapOn } : {}),
    ...(typeof kubelet.failCgroupV1 === "boolean" ? { failCgroupV1: kubelet.failCgroupV1 } : {}),
  };
}

function kubeletStarts(cfg: Pick<ConfigFile, "failSwapOn" | "failCgroupV1">): string | undefined {
  const hw = hardware();
  if (swapOn(hw) && cfg.failSwapOn !== false) return "kubelet: running with swap on is not supported, please disable swap or set --fail-swap-on flag to false";
  if (hw.cgroup === "v1" && minorOf(k8sVersion("kubelet")) >= 35 && cfg.failCgroupV1 !== false) return "kubelet: cgroup v1 support is unsupported (failCgroupV1 is true by default since 1.35)";
  return undefined;
}

function kubeletNotHealthy(sim: Sim, phase: string, why: string): never {
  sim.out("[kubelet-check] Waiting for a healthy kubelet at http://127.0.0.1:10248/healthz. This can take up to 4m0s\n");
  fail(
    1,
    `[kubelet-check] The kubelet is not healthy after 4m0s\n\nUnfortunately, an error has occurred, likely caused by:\n\t- The kubelet is not running\n\t- The kubelet is unhealthy due to a misconfiguration of the node in some way (required cgroups disabled)\n(lab: ${why})\n\nerror execution phase ${phase}: failed while waiting for the kubelet to start: The HTTP call equal to 'curl -sSL http://127.0.0.1:10248/healthz' returned error: Get "http://127.0.0.1:10248/healthz": dial tcp 127.0.0.1:10248: connect: connection refused\n${STACK_HINT}`,
  );
}

function fileAvail(errs: Check[], file: string): void {
  if (existsSync(file)) errs.push([`FileAvailable-${file.replace(/\//g, "-")}`, `${file} already exists`]);
}

function dirNotEmpty(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

function joinCommand(endpoint: string, token: string, hash: string, certKey?: string): string {
  return `kubeadm join ${endpoint} --token ${token} --discovery-token-ca-cert-hash ${hash}${certKey ? ` --control-plane --certificate-key ${certKey}` : ""}`;
}

function withPort(ep: string): string {
  return /:\d+$/.test(ep) ? ep : `${ep}:6443`;
}

/** What kubeadm says when the API server did not come up (wait-control-plane), with the simulator's reason. */
function apiNotHealthy(address: string, port: number, seconds: string, why: string): never {
  const url = `https://${address}:${port}/livez`;
  fail(
    1,
    `[control-plane-check] kube-apiserver is not healthy after ${seconds}s\n\nA control plane component may have crashed or exited when started by the container runtime.\n(lab: ${why})\n\nerror execution phase wait-control-plane: failed while waiting for the control plane to start: kube-apiserver check failed at ${url}: Get "${url}?timeout=10s": dial tcp ${address}:${port}: connect: connection refused\nTo see the stack trace of this error execute with --v=5 or higher`,
  );
}

function bindPortOf(flags: Map<string, string[]>, cfg: ConfigFile): number {
  const raw = flag(flags, "apiserver-bind-port") ?? cfg.bindPort ?? 6443;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(1, `localAPIEndpoint.bindPort: Invalid value: ${JSON.stringify(String(raw))}: must be a valid port number between 1 and 65535, inclusive`);
  return port;
}

function markControlPlane(sim: Sim, nodeName: string, taints: Taint[] | undefined): void {
  const t = taints ?? [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }];
  sim.out(`[mark-control-plane] Marking the node ${nodeName} as control-plane by adding the labels: [node-role.kubernetes.io/control-plane node.kubernetes.io/exclude-from-external-load-balancers]\n`);
  if (t.length) sim.out(`[mark-control-plane] Marking the node ${nodeName} as control-plane by adding the taints [${t.map((x) => `${x.key}${x.value ? `=${x.value}` : ""}:${x.effect}`).join(" ")}]\n`);
}

async function init(sim: Sim, args: string[]): Promise<number> {
  const { flags } = parseArgs(args, ["upload-certs", "skip-token-print", "skip-certificate-key-print", "dry-run"]);
  const cfg = readConfig(sim, flag(flags, "config"), "init");
  const requested = flag(flags, "kubernetes-version") ?? cfg.kubernetesVersion ?? "stable-1";
  const resolved = resolveKubernetesVersion(requested, k8sVersion("kubeadm"), (url) => `Get "${url}": dial tcp: lookup dl.k8s.io on 127.0.0.53:53: no such host`);
  for (const w of resolved.warnings) klogWarning(sim, w.startsWith("could not") ? "version.go:109" : "version.go:110", w);
  const version = resolved.version;
  const nodeName0 = flag(flags, "node-name") ?? cfg.nodeName ?? defaultNodeName(sim);
  validateNodeName(nodeName0);
  sim.out(`[init] Using Kubernetes version: ${version}\n`);
  const address = hostAddress(sim, flags, cfg);
  const errs = commonChecks(sim, nodeName0, true);
  const cp = existsSync(`${K}/manifests/kube-apiserver.yaml`);
  const bindPort0 = bindPortOf(flags, cfg);
  errs.push(...(await portChecks([bindPort0, 10259, 10257], () => cp)));
  for (const m of MANIFESTS) fileAvail(errs, `${K}/manifests/${m}.yaml`);
  errs.push(...(await portChecks([10250], () => existsSync(`${K}/kubelet.conf`))));
  errs.push(...(await portChecks([2379, 2380], () => cp)));
  if (dirNotEmpty("/var/lib/etcd")) errs.push(["DirAvailable--var-lib-etcd", "/var/lib/etcd is not empty"]);
  preflight(sim, errs, [...(flags.get("ignore-preflight-errors") ?? []), ...(cfg.ignorePreflightErrors ?? [])]);
  pullImages(sim, cfg.imageRepository);

  const cpe = flag(flags, "control-plane-endpoint") ?? cfg.controlPlaneEndpoint;
  const bindPort = bindPortOf(flags, cfg);
  const endpoint = cpe ? withPort(cpe) : `${address}:${bindPort}`;
  const nodeName = nodeName0;
  // certificates: a real CA unless one was provided (external CA / pre-shared pki)
  mkdirSync(PKI, { recursive: true });
  if (!existsSync(`${PKI}/ca.crt`) || !existsSync(`${PKI}/ca.key`)) {
    sim.out('[certs] Generating "ca" certificate and key\n');
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${PKI}/ca.key`, "-out", `${PKI}/ca.crt`, "-days", "3650", "-subj", "/CN=kubernetes",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign"]);
  }
  if (!existsSync(`${PKI}/sa.key`)) {
    sim.out('[certs] Generating "sa" key and public key\n');
    openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", `${PKI}/sa.key`]);
    writeFile(`${PKI}/sa.pub`, openssl(["pkey", "-in", `${PKI}/sa.key`, "-pubout"]));
  }
  const caPem = readFileSync(`${PKI}/ca.crt`, "utf8");
  const hash = caHashOf(caPem);
  sim.out("[kubeconfig] Using kubeconfig folder \"/etc/kubernetes\"\n");
  writeKubeconfig(`${K}/admin.conf`, endpoint, "kubernetes-admin", "kubeadm:cluster-admins");
  writeKubeconfig(`${K}/super-admin.conf`, endpoint, "kubernetes-super-admin", "system:masters");
  writeKubeconfig(`${K}/kubelet.conf`, endpoint, `system:node:${nodeName}`, "system:nodes");
  writeKubeconfig(`${K}/controller-manager.conf`, endpoint, "system:kube-controller-manager");
  writeKubeconfig(`${K}/scheduler.conf`, endpoint, "system:kube-scheduler");
  for (const m of MANIFESTS) writeFile(`${K}/manifests/${m}.yaml`, staticPod(m, version, address, sim));
  writeFile("/var/lib/etcd/member/snap/db", "");
  etcdPki();
  recordCerts(sim, { init: true });
  writeFile("/var/lib/kubelet/config.yaml", stringifyYaml(kubeletConfigOf(cfg)));
  const kubeletProblem = kubeletStarts(cfg);
  if (kubeletProblem) kubeletNotHealthy(sim, "wait-control-plane", kubeletProblem);

  // the cluster, seen by every lab host (one init at a time: each replaces the shared directory)
  return withClusterLock(sim, async () => {
    // the store and this host's front (init again without reset) belong to the cluster being replaced
    await stopDaemon(sim, "apiproxy");
    await stopDaemon(sim, "apiserver");
    rmSync(sim.clusterDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    mkdirSync(sim.clusterDir, { recursive: true, mode: 0o755 });
    const pki = path.join(sim.clusterDir, "pki");
    for (const f of ["ca.crt", "ca.key", "sa.key", "sa.pub"]) writeFile(path.join(pki, f), readFileSync(`${PKI}/${f}`), 0o600);
    const info: ClusterInfo = {
      id: randomBytes(8).toString("hex"),
      endpoint,
      ...(cpe ? { controlPlaneEndpoint: withPort(cpe) } : {}),
      version,
      initHost: sim.host,
      caHash: hash,
      ...(flag(flags, "pod-network-cidr") ?? cfg.podSubnet ? { podCIDR: flag(flags, "pod-network-cidr") ?? cfg.podSubnet } : {}),
      serviceCIDR: flag(flags, "service-cidr") ?? cfg.serviceSubnet ?? "10.96.0.0/12",
      createdAt: new Date().toISOString(),
    };
    writeJson(clusterFile(sim), info);
    writeJson(path.join(nodesDir(sim), `${sim.host}.json`), { host: sim.host, address, controlPlane: true, joinedAt: info.createdAt } satisfies NodeRec);

    // the control plane: the API simulator, for real, on every address of this host (as kube-apiserver
    // binds 0.0.0.0), its serving certificate signed by the CA above, its state in the lab's cluster dir
    const stateFile = path.join(sim.clusterDir, "apiserver.json");
    const cpeHost = cpe ? splitHostPort(withPort(cpe)).host : undefined;
    const extraSans = [
      ...(cfg.certSANs ?? []),
      ...(flags.get("apiserver-cert-extra-sans") ?? []).flatMap((v) => v.split(",")),
      ...(cpeHost ? [cpeHost] : []),
      address,
      nodeName,
      "127.0.0.1",
    ].map((x) => x.trim()).filter(Boolean);
    const apiVersion = /^v\d+\.\d+\.\d+$/.test(version) ? version : k8sVersion("kubeadm");
    sim.out(`[control-plane-check] Waiting for healthy control plane components. This can take up to 4m0s\n[control-plane-check] Checking kube-apiserver at https://${address}:${bindPort}/livez\n`);
    const t1 = Date.now();
    const secs = () => ((Date.now() - t1) / 1000).toFixed(3);
    // The store: one per lab, outside any one control plane's lifetime (etcd.ts); its serving certificate
    // is made in the cluster's pki dir and serves every front. This host's member and front come next.
    newEtcdCluster(sim.clusterDir, { name: nodeName, host: sim.host, peerURL: `https://${address}:2380`, clientURL: `https://${address}:2379`, apiPort: bindPort });
    rmSync(storeSocket(sim), { force: true });
    try {
      await startDaemon(
        sim,
        "apiserver",
        ["--socket", storeSocket(sim), "--quorum-of", sim.labDir, "--host", "0.0.0.0", "--port", String(bindPort), "--pki", pki, "--state", stateFile, "--version", apiVersion, "--version-file", path.join(sim.clusterDir, VERSION_FILE), ...[...new Set(extraSans)].flatMap((x) => ["--extra-san", x])],
        { stateFile },
      );
      await startDaemon(sim, "apiproxy", ["--listen", `0.0.0.0:${bindPort}`, "--target", `unix:${storeSocket(sim)}`], {}, 10_000);
      copyServingCert(pki);
    } catch (e) {
      apiNotHealthy(address, bindPort, secs(), (e as Error).message);
    }
    sim.out(`[control-plane-check] kube-apiserver is healthy after ${secs()}s\n`);
    info.api = { host: sim.host, address, port: bindPort, url: `https://${address}:${bindPort}` };
    writeJson(clusterFile(sim), info);
    // the kubelet registers the node (kubelet.conf, straight to the local API server), kubeadm marks it
    try {
      await registerWithKubelet(`${K}/kubelet.conf`, info.api.url, nodeSpec({ name: nodeName, address: kubeletAddress(sim, cfg, nodeName), controlPlane: true, ...(cfg.taints ? { taints: cfg.taints } : {}), networkManagerActive: unitState(sim, "NetworkManager").active }));
    } catch (e) {
      fail(1, `error execution phase mark-control-plane: error applying control-plane label and taints to node "${nodeName}": ${(e as Error).message}\nTo see the stack trace of this error execute with --v=5 or higher`);
    }
    try {
      await uploadConfig(info, cfg, endpoint);
    } catch (e) {
      fail(1, `error execution phase upload-config/kubeadm: ${(e as Error).message}\n${STACK_HINT}`);
    }
    sim.out('[upload-config] Storing the configuration used in ConfigMap "kubeadm-config" in the "kube-system" Namespace\n');
    sim.out('[kubelet] Creating a ConfigMap "kubelet-config" in namespace kube-system with the configuration for the kubelets in the cluster\n');
    markControlPlane(sim, nodeName, cfg.taints);
    const token = flag(flags, "token") ?? cfg.token ?? randomToken();
    if (!TOKEN_RE.test(token)) fail(1, `the bootstrap token "${token}" was not of the form "\\A([a-z0-9]{6})\\.([a-z0-9]{16})\\z"`);
    saveToken(sim, token, parseTtl(flag(flags, "token-ttl")));
    let certKey: string | undefined;
    if (flags.has("upload-certs")) {
      certKey = flag(flags, "certificate-key") ?? cfg.certificateKey ?? randomBytes(32).toString("hex");
      storeCertKey(sim, certKey);
      sim.out(`[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace\n[upload-certs] Using certificate key:\n${certKey}\n`);
    }
    sim.out(`[bootstrap-token] Using token: ${token}\n[addons] Applied essential addon: CoreDNS\n[addons] Applied essential addon: kube-proxy\n\n`);
    sim.out(`Your Kubernetes control-plane has initialized successfully!

To start using your cluster, you need to run the following as a regular user:

  mkdir -p $HOME/.kube
  sudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config
  sudo chown $(id -u):$(id -g) $HOME/.kube/config

You should now deploy a pod network to the cluster.
`);
    if (cpe) {
      sim.out(`\nYou can now join any number of control-plane nodes running the following command on each as root:\n\n  ${joinCommand(endpoint, token, hash, certKey ?? "<key>").replace(/ --/g, " \\\n\t--")}\n`);
    }
    sim.out(`\nThen you can join any number of worker nodes by running the following on each as root:\n\n${joinCommand(endpoint, token, hash).replace(/ --/g, " \\\n\t--")}\n`);
    return 0;
  });
}

/**
 * kubeadm init's upload-config phase (kubeadm docs "kubeadm init phase upload-config": "Upload the kubeadm
 * ClusterConfiguration to a ConfigMap called kubeadm-config in the kube-system namespace" and the kubelet
 * component config to "kubelet-config"; cmd/kubeadm/app/phases/uploadconfig/uploadconfig.go and
 * phases/kubelet/config.go): the ClusterConfiguration as init used it, defaults filled in (v1beta4 from
 * kubeadm 1.31, v1beta3 before), under the key ClusterConfiguration; the KubeletConfiguration under the key
 * kubelet; and the Roles that let nodes and bootstrap tokens read both (kubeadm:nodes-kubeadm-config,
 * kubeadm:kubelet-config). calico-node reads kubeadm-config for the pod CIDR (calico.ts).
 */
/** The KubeletConfiguration init writes to /var/lib/kubelet/config.yaml and uploads: kubeadm's defaults (cgroupDriver systemd) under the file's document. */
function kubeletConfigOf(cfg: Pick<ConfigFile, "kubelet">): Record<string, unknown> {
  return { apiVersion: "kubelet.config.k8s.io/v1beta1", kind: "KubeletConfiguration", cgroupDriver: "systemd", ...(cfg.kubelet ?? {}) };
}

/** The ConfigMaps of the upload-config phase, as kubeadm writes them (pure: tests feed it the product's config). */
export function uploadedConfigMaps(
  c: { api: string; version: string; podCIDR?: string; serviceCIDR: string; controlPlaneEndpoint?: string },
  cfg: Pick<ConfigFile, "certSANs" | "clusterName" | "imageRepository" | "dnsDomain" | "kubelet">,
): Record<"kubeadm-config" | "kubelet-config", { apiVersion: "v1"; kind: "ConfigMap"; metadata: { name: string; namespace: string }; data: Record<string, string> }> {
  const cluster: Record<string, unknown> = {
    apiServer: cfg.certSANs?.length ? { certSANs: cfg.certSANs } : {},
    apiVersion: c.api,
    certificatesDir: PKI,
    clusterName: cfg.clusterName ?? "kubernetes",
    ...(c.controlPlaneEndpoint ? { controlPlaneEndpoint: c.controlPlaneEndpoint } : {}),
    controllerManager: {},
    dns: {},
    etcd: { local: { dataDir: "/var/lib/etcd" } },
    imageRepository: cfg.imageRepository ?? "registry.k8s.io",
    kind: "ClusterConfiguration",
    kubernetesVersion: c.version,
    networking: { dnsDomain: cfg.dnsDomain ?? "cluster.local", ...(c.podCIDR ? { podSubnet: c.podCIDR } : {}), serviceSubnet: c.serviceCIDR },
    proxy: {},
    scheduler: {},
  };
  const kubelet = kubeletConfigOf(cfg);
  const cm = (name: string, data: Record<string, string>) => ({ apiVersion: "v1" as const, kind: "ConfigMap" as const, metadata: { name, namespace: "kube-system" }, data });
  return { "kubeadm-config": cm("kubeadm-config", { ClusterConfiguration: stringifyYaml(cluster) }), "kubelet-config": cm("kubelet-config", { kubelet: stringifyYaml(kubelet) }) };
}

async function uploadConfig(info: ClusterInfo, cfg: ConfigFile, endpoint: string): Promise<void> {
  const api = minorOf(k8sVersion("kubeadm")) >= 31 ? "kubeadm.k8s.io/v1beta4" : "kubeadm.k8s.io/v1beta3";
  const maps = uploadedConfigMaps({ api, version: info.version, ...(info.podCIDR ? { podCIDR: info.podCIDR } : {}), serviceCIDR: info.serviceCIDR, ...(info.controlPlaneEndpoint ? { controlPlaneEndpoint: info.controlPlaneEndpoint } : {}) }, cfg);
  const creds = credentialsFromKubeconfig(`${K}/admin.conf`);
  creds.server = info.api?.url ?? `https://${endpoint}`;
  const apply = async (path: string, obj: Record<string, unknown>): Promise<void> => {
    const r = await apiRequest(creds, "PATCH", `${path}?fieldManager=kubeadm&force=true`, obj, "application/apply-patch+yaml");
    if (r.status >= 300) throw new Error(`${path}: ${(r.body as { message?: string })?.message ?? `HTTP ${r.status}`}`);
  };
  for (const m of Object.values(maps)) await apply(`/api/v1/namespaces/kube-system/configmaps/${m.metadata.name}`, m);
  const RBAC = "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system";
  const readers = [
    { kind: "Group", apiGroup: "rbac.authorization.k8s.io", name: "system:bootstrappers:kubeadm:default-node-token" },
    { kind: "Group", apiGroup: "rbac.authorization.k8s.io", name: "system:nodes" },
  ];
  for (const [role, cmName] of [["kubeadm:nodes-kubeadm-config", "kubeadm-config"], ["kubeadm:kubelet-config", "kubelet-config"]] as const) {
    await apply(`${RBAC}/roles/${encodeURIComponent(role)}`, {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: role, namespace: "kube-system" },
      rules: [{ apiGroups: [""], resources: ["configmaps"], resourceNames: [cmName], verbs: ["get"] }],
    });
    await apply(`${RBAC}/rolebindings/${encodeURIComponent(role)}`, {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: role, namespace: "kube-system" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role }, subjects: readers,
    });
  }
}

/** One API answer: the HTTP status and the decoded body (a ConfigMap, or a Status with `message`). */
export interface ApiAnswer {
  status: number;
  body: unknown;
}

/** What `kubeadm join` takes from the cluster: the ClusterConfiguration and the kubelets' KubeletConfiguration. */
export interface ClusterSettings {
  cluster: Record<string, any>;
  /** The KubeletConfiguration document and its YAML text (written to /var/lib/kubelet/config.yaml). */
  kubelet: Record<string, any>;
  kubeletText: string;
  /** klog warnings (unknown fields in a ConfigMap patched by something other than kubeadm). */
  warnings: string[];
}

/**
 * The cluster's settings as `kubeadm join` reads them, from kube-system/kubeadm-config (key
 * ClusterConfiguration) and kube-system/kubelet-config (key kubelet), fetched with the bootstrap token's
 * identity. Sources: cmd/kubeadm/app/util/config/cluster.go FetchInitConfigurationFromCluster and
 * getInitConfigurationFromCluster ("failed to get config map", "unexpected error when reading kubeadm-config
 * ConfigMap: ClusterConfiguration key value pair missing", strict.VerifyUnmarshalStrict only warns, the
 * UniversalDecoder's error "failed to decode cluster configuration data"); componentconfigs/configset.go
 * fromConfigMap (the kubelet's ConfigMap must exist: "failed to get component configs"); cmd/kubeadm/app/cmd/
 * join.go fetchInitConfiguration wraps all of them in "unable to fetch the kubeadm-config ConfigMap".
 * A kubeadm API version this kubeadm no longer registers (v1beta3 from 1.36) fails in the decoder with
 * `no kind "ClusterConfiguration" is registered for version …` (real output quoted in public reports).
 * Returns the error text kubeadm stops with (after "error execution phase preflight: "), or the settings.
 */
export function clusterSettingsFromConfigMaps(kubeadmConfig: ApiAnswer, kubeletConfig: ApiAnswer, kubeadmVersion: string): ClusterSettings | { error: string } {
  const wrap = (e: string) => ({ error: `unable to fetch the kubeadm-config ConfigMap: ${e}` });
  const message = (a: ApiAnswer) => (a.body as { message?: string } | undefined)?.message ?? `the server responded with the status code ${a.status}`;
  if (kubeadmConfig.status >= 300) return wrap(`failed to get config map: ${message(kubeadmConfig)}`);
  const data = ((kubeadmConfig.body as { data?: Record<string, string> })?.data ?? {}) as Record<string, string>;
  const text = data["ClusterConfiguration"];
  if (typeof text !== "string") return wrap("unexpected error when reading kubeadm-config ConfigMap: ClusterConfiguration key value pair missing");
  const warnings: string[] = [];
  const decoded = decodeKubeadmConfig(text, { kubeadmVersion });
  const head = decoded.docs[0];
  if (decoded.error) {
    const [group, version] = (head?.apiVersion ?? "").split("/");
    if (head && group === "kubeadm.k8s.io" && !kubeadmApiSupport(version ?? "", head.kind, minorOf(kubeadmVersion)).ok) {
      return wrap(`failed to decode cluster configuration data: no kind "${head.kind}" is registered for version "${head.apiVersion}" in scheme "k8s.io/kubernetes/cmd/kubeadm/app/apis/kubeadm/scheme/scheme.go:31"`);
    }
    return wrap(`failed to decode cluster configuration data: ${decoded.error}`);
  }
  const cluster = docOf(decoded, "ClusterConfiguration");
  if (!cluster) return wrap(`failed to decode cluster configuration data: no kind "ClusterConfiguration" in the kubeadm-config ConfigMap`);
  warnings.push(...decoded.warnings.filter((w) => w.startsWith("error unmarshaling")));
  if (kubeletConfig.status >= 300) return wrap(`failed to get component configs: ${message(kubeletConfig)}`);
  const kdata = ((kubeletConfig.body as { data?: Record<string, string> })?.data ?? {}) as Record<string, string>;
  const ktext = kdata["kubelet"];
  if (typeof ktext !== "string") return wrap("failed to get component configs: unexpected error when reading kubelet-config ConfigMap: kubelet key value pair missing");
  const kd = decodeKubeadmConfig(ktext, { kubeadmVersion });
  if (kd.error) return wrap(`failed to get component configs: ${kd.error}`);
  const kubelet = docOf(kd, "KubeletConfiguration") ?? {};
  return { cluster, kubelet, kubeletText: ktext, warnings };
}

/**
 * The join's preflight reads the cluster's settings as the bootstrap token's user (the token authenticator's
 * `system:bootstrap:<id>` in `system:bootstrappers:kubeadm:default-node-token`, kubeadm's default token group;
 * k8s.io/apiserver plugin/pkg/authenticator/token/bootstrap). The lab's API simulator authenticates client
 * certificates only, so the lab signs one with that user and group: the apisim's RBAC then decides, as a
 * real API server does with kubeadm's kubeadm:nodes-kubeadm-config / kubeadm:kubelet-config Roles.
 */
async function fetchClusterSettings(sim: Sim, server: string, clusterPki: string, tokenId: string): Promise<ClusterSettings> {
  sim.out('[preflight] Reading configuration from the "kubeadm-config" ConfigMap in namespace "kube-system"...\n');
  sim.out("[preflight] Use 'kubeadm init phase upload-config --config your-config-file' to re-upload it.\n");
  // one client certificate per token, kept in the lab's cluster dir (the token's identity does not change;
  // signing one per join cost ≈ 33 ms of CPU each, measured with 50 joins in `npm run bench -- --up`)
  const cached = path.join(sim.clusterDir, "bootstrap-clients", `${tokenId}.json`);
  let pair = readJson<{ cert: string; key: string } | undefined>(cached, undefined);
  if (!pair) {
    pair = clientCert(`system:bootstrap:${tokenId}`, "system:bootstrappers:kubeadm:default-node-token", clusterPki);
    writeJson(cached, pair, 0o600);
  }
  const { cert, key } = pair;
  const creds = { server, ca: readFileSync(path.join(clusterPki, "ca.crt"), "utf8"), cert, key };
  const get = async (name: string): Promise<ApiAnswer> => {
    try {
      return await apiRequest(creds, "GET", `/api/v1/namespaces/kube-system/configmaps/${name}`);
    } catch (e) {
      return { status: 599, body: { message: `Get "${server}/api/v1/namespaces/kube-system/configmaps/${name}?timeout=10s": ${(e as Error).message}` } };
    }
  };
  const settings = clusterSettingsFromConfigMaps(await get("kubeadm-config"), await get("kubelet-config"), k8sVersion("kubeadm"));
  if ("error" in settings) fail(1, `error execution phase preflight: ${settings.error}\n${STACK_HINT}`);
  for (const w of settings.warnings) klogWarning(sim, "cluster.go:108", w);
  return settings;
}

function storeCertKey(sim: Sim, key: string): void {
  if (!/^[0-9a-f]{64}$/.test(key)) fail(1, "error execution phase upload-certs: error uploading certs: invalid certificate key: must be 32 bytes hex encoded");
  writeJson(path.join(sim.clusterDir, "certkey.json"), { key, expires: new Date(Date.now() + 2 * 3600_000).toISOString() }, 0o600);
}

function requireAdmin(sim: Sim): ClusterInfo {
  if (!existsSync(`${K}/admin.conf`)) {
    fail(1, `failed to load admin kubeconfig: open ${K}/admin.conf: no such file or directory\nTo see the stack trace of this error execute with --v=5 or higher`);
  }
  const c = loadCluster(sim);
  if (!c) fail(1, `failed to create API client: Get "https://${sim.address()}:6443/api": dial tcp ${sim.address()}:6443: connect: connection refused`);
  return c;
}

function uploadCerts(sim: Sim, args: string[]): number {
  const { flags } = parseArgs(args, ["upload-certs", "skip-certificate-key-print"]);
  if (!sim.isRoot) fail(1, "error execution phase upload-certs: user is not running as root");
  requireAdmin(sim);
  if (!flags.has("upload-certs")) {
    sim.out("[upload-certs] Skipping phase. Please see --upload-certs\n");
    return 0;
  }
  // --certificate-key, else the InitConfiguration's certificateKey from --config, else a new one
  // (cmd/kubeadm/app/cmd/phases/init/uploadcerts.go: the key comes from the init configuration)
  const key = flag(flags, "certificate-key") ?? readConfig(sim, flag(flags, "config"), "init").certificateKey ?? randomBytes(32).toString("hex");
  storeCertKey(sim, key);
  sim.out(`[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace\n[upload-certs] Using certificate key:\n${key}\n`);
  return 0;
}

function token(sim: Sim, args: string[]): number {
  const { flags, pos } = parseArgs(args, ["print-join-command"]);
  const sub = pos[0] ?? "list";
  if (!sim.isRoot) fail(1, `failed to load admin kubeconfig: open ${K}/admin.conf: permission denied`);
  const c = requireAdmin(sim);
  if (sub === "create") {
    // `kubeadm token create [token] --config FILE`: the token is the argument, else the config's first
    // bootstrapTokens entry, else a random one (cmd/kubeadm/app/cmd/token.go RunCreateToken loads the
    // InitConfiguration from --config; kubeadm docs, "kubeadm token create": --config, [token]).
    const t = pos[1] ?? readConfig(sim, flag(flags, "config"), "init").token ?? randomToken();
    if (!TOKEN_RE.test(t)) fail(1, `token [${t}] was not of form [^([a-z0-9]{6})\\.([a-z0-9]{16})$]`);
    saveToken(sim, t, parseTtl(flag(flags, "ttl")));
    if (flags.has("print-join-command")) {
      const ck = flag(flags, "certificate-key");
      sim.out(`${joinCommand(c.endpoint, t, c.caHash, ck)} \n`);
    } else sim.out(`${t}\n`);
    return 0;
  }
  if (sub === "list") {
    sim.out("TOKEN                     TTL         EXPIRES                USAGES                   DESCRIPTION   EXTRA GROUPS\n");
    let files: string[] = [];
    try {
      files = readdirSync(tokensDir(sim));
    } catch {
      /* none */
    }
    for (const f of files) {
      const t = readJson<TokenRec | undefined>(path.join(tokensDir(sim), f), undefined);
      if (t && Date.parse(t.expires) > Date.now()) sim.out(`${t.id}.${t.secret}   23h         ${t.expires}   authentication,signing   <none>        system:bootstrappers:kubeadm:default-node-token\n`);
    }
    return 0;
  }
  if (sub === "delete") {
    for (const t of pos.slice(1)) {
      const id = t.split(".")[0]!;
      rmSync(path.join(tokensDir(sim), `${id}.json`), { force: true });
      sim.out(`bootstrap token "${id}" deleted\n`);
    }
    return 0;
  }
  if (sub === "generate") {
    sim.out(`${randomToken()}\n`);
    return 0;
  }
  fail(1, `unknown command "${sub}" for "kubeadm token"`);
}

async function join(sim: Sim, args: string[]): Promise<number> {
  const { flags, pos } = parseArgs(args, ["control-plane", "discovery-token-unsafe-skip-ca-verification", "dry-run"]);
  const cfg = readConfig(sim, flag(flags, "config"), "join");
  const endpoint = pos[0] ?? cfg.apiServerEndpoint;
  const tok = flag(flags, "token", "discovery-token") ?? cfg.token;
  const hashes = [...(flags.get("discovery-token-ca-cert-hash") ?? []), ...(cfg.caCertHashes ?? [])];
  const skipCa = flags.has("discovery-token-unsafe-skip-ca-verification") || cfg.unsafeSkipCAVerification === true;
  const controlPlane = flags.has("control-plane") || cfg.controlPlane === true;
  const certKey = flag(flags, "certificate-key") ?? cfg.certificateKey;
  if (!endpoint) fail(1, "discovery.bootstrapToken.apiServerEndpoint: Invalid value: \"\": the API server endpoint is required");
  if (!tok) fail(1, "discovery.bootstrapToken.token: Invalid value: \"\": the bootstrap token is invalid\ndiscovery.tlsBootstrapToken: Invalid value: \"\": the bootstrap token is invalid");
  const m = TOKEN_RE.exec(tok);
  if (!m) fail(1, `discovery.bootstrapToken.token: Invalid value: "${tok}": the bootstrap token is invalid`);
  if (hashes.length === 0 && !skipCa) {
    fail(1, 'discovery.bootstrapToken: Invalid value: "": using token-based discovery without caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config file or pass --discovery-token-unsafe-skip-ca-verification flag to continue');
  }
  const nodeName0 = flag(flags, "node-name") ?? cfg.nodeName ?? defaultNodeName(sim);
  validateNodeName(nodeName0);
  const errs = commonChecks(sim, nodeName0, controlPlane);
  fileAvail(errs, `${K}/kubelet.conf`);
  errs.push(...(await portChecks([10250], () => existsSync(`${K}/kubelet.conf`))));
  fileAvail(errs, `${PKI}/ca.crt`);
  if (controlPlane) {
    const cp = existsSync(`${K}/manifests/kube-apiserver.yaml`);
    errs.push(...(await portChecks([bindPortOf(flags, cfg), 10259, 10257], () => cp)));
    for (const mf of MANIFESTS) fileAvail(errs, `${K}/manifests/${mf}.yaml`);
    errs.push(...(await portChecks([2379, 2380], () => cp)));
    if (dirNotEmpty("/var/lib/etcd")) errs.push(["DirAvailable--var-lib-etcd", "/var/lib/etcd is not empty"]);
  }
  preflight(sim, errs, [...(flags.get("ignore-preflight-errors") ?? []), ...(cfg.ignorePreflightErrors ?? [])]);
  if (controlPlane) pullImages(sim, undefined);

  // discovery: reach the API at the endpoint, for real, from this host
  const ep = withPort(endpoint);
  const c = loadCluster(sim);
  const dialFailed: (why: string) => never = (why) =>
    fail(1, `error execution phase preflight: couldn't validate the identity of the API Server: Get "https://${ep}/api/v1/namespaces/kube-public/configmaps/cluster-info?timeout=10s": dial tcp ${ep}: connect: ${why}\nTo see the stack trace of this error execute with --v=5 or higher`);
  if (!c) dialFailed("connection refused");
  const target = splitHostPort(ep);
  let server = `https://${ep}`;
  // kubeadm's discovery ends timeouts.discovery after it starts (its context), retries included
  const deadline = Date.now() + goDurationMs(cfg.discoveryTimeout ?? "5m0s");
  const reach = await probe(target.host, target.port, 500);
  if (reach === "refused") dialFailed("connection refused");
  if (reach !== "ok") {
    // The cluster's own endpoint that no host answers for (a VIP without keepalived in a lab test): the
    // lab goes to the API server's address instead, but only while that API server really runs.
    const own = ep === c.endpoint || ep === c.controlPlaneEndpoint;
    let front = own ? liveFront(sim) : undefined;
    // a connection the API server's host refused or rejected (an RST, an ICMP reject from its firewall) is
    // an answer; one that timed out, or found no neighbour (no ARP reply within the kernel's ≈ 3 s), had none
    let t = Date.now();
    let direct = front ? await probe(front.address, front.port, 5000) : reach;
    const noAnswer = (r: ProbeResult, ms: number) => r === "timeout" || (r === "unreachable" && ms >= 1000);
    // kubeadm asks for cluster-info again every 5 s (jitter 0.3) until timeouts.discovery (default 5m0s) has
    // passed, whatever the error ("[discovery] Failed to request cluster-info, will try again", kubeadm
    // cmd/kubeadm/app/discovery/token/token.go getClusterInfo, wait.JitterUntil; constants.go
    // DiscoveryRetryInterval). The lab asks again so while an API server runs and its host gave no answer (a
    // loaded machine: 195 joins at once had connections time out, or find no ARP reply); an endpoint nothing
    // serves, or one that answered with a refusal, fails at once, where kubeadm fails after the timeout with
    // the same error.
    while (front && noAnswer(direct, Date.now() - t)) {
      const pause = DISCOVERY_RETRY_MS * (1 + Math.random() * 0.3);
      if (Date.now() + pause >= deadline) break;
      await sleepMs(pause);
      const again = await probe(target.host, target.port, 500);
      if (again === "ok") {
        direct = "ok";
        front = undefined;
        break;
      }
      front = liveFront(sim);
      t = Date.now();
      direct = front ? await probe(front.address, front.port, 5000) : again;
    }
    if (direct !== "ok") dialFailed(direct === "refused" ? "connection refused" : reach === "timeout" ? "i/o timeout" : "no route to host");
    if (front) server = `https://${front.address}:${front.port}`;
  }
  const rec = readJson<TokenRec | undefined>(path.join(tokensDir(sim), `${m[1]}.json`), undefined);
  if (!rec || rec.secret !== m[2] || Date.parse(rec.expires) < Date.now()) {
    fail(1, `error execution phase preflight: couldn't validate the identity of the API Server: could not find a JWS signature in the cluster-info ConfigMap for token ID "${m[1]}"\nTo see the stack trace of this error execute with --v=5 or higher`);
  }
  if (!skipCa && !hashes.includes(c.caHash)) {
    fail(1, `error execution phase preflight: couldn't validate the identity of the API Server: cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "${c.caHash}" are pinned\nTo see the stack trace of this error execute with --v=5 or higher`);
  }
  const address = hostAddress(sim, flags, cfg);
  const nodeName = nodeName0;
  const clusterPki = path.join(sim.clusterDir, "pki");
  // the cluster's settings come from kube-system/kubeadm-config and kubelet-config, as real join reads them
  const settings = await fetchClusterSettings(sim, server, clusterPki, m[1]!);
  const clusterVersion = typeof settings.cluster.kubernetesVersion === "string" ? settings.cluster.kubernetesVersion : c.version;
  mkdirSync(PKI, { recursive: true });
  if (controlPlane) {
    if (!settings.cluster.controlPlaneEndpoint) {
      fail(1, "error execution phase preflight: \nOne or more conditions for hosting a new control plane instance is not satisfied.\n\nunable to add a new control plane instance to a cluster that doesn't have a stable controlPlaneEndpoint address\n\nPlease ensure that:\n* The cluster has a stable controlPlaneEndpoint address.\n* The certificates that must be shared among control plane instances are provided.");
    }
    if (!certKey) {
      fail(1, `error execution phase preflight: \nOne or more conditions for hosting a new control plane instance is not satisfied.\n\n[failure loading certificate for CA: couldn't load the certificate file ${PKI}/ca.crt: open ${PKI}/ca.crt: no such file or directory]\n\nPlease ensure that:\n* The cluster has a stable controlPlaneEndpoint address.\n* The certificates that must be shared among control plane instances are provided.`);
    }
    const stored = readJson<{ key: string; expires: string } | undefined>(path.join(sim.clusterDir, "certkey.json"), undefined);
    if (!stored || Date.parse(stored.expires) < Date.now()) {
      fail(1, 'error execution phase control-plane-prepare/download-certs: error downloading certs: error downloading the secret: Secret "kubeadm-certs" was not found in the "kube-system" Namespace. This Secret might have expired. Please, run `kubeadm init phase upload-certs --upload-certs` on a control plane to generate a new one');
    }
    if (stored.key !== certKey.toLowerCase()) {
      fail(1, "error execution phase control-plane-prepare/download-certs: error downloading certs: error decoding secret data with provided key: cipher: message authentication failed");
    }
    sim.out("[download-certs] Downloading the certificates in Secret \"kubeadm-certs\" in the \"kube-system\" Namespace\n");
    for (const f of ["ca.crt", "ca.key", "sa.key", "sa.pub"]) writeFile(`${PKI}/${f}`, readFileSync(path.join(clusterPki, f)), 0o600);
    writeKubeconfig(`${K}/admin.conf`, c.endpoint, "kubernetes-admin", "kubeadm:cluster-admins");
    writeKubeconfig(`${K}/controller-manager.conf`, c.endpoint, "system:kube-controller-manager");
    writeKubeconfig(`${K}/scheduler.conf`, c.endpoint, "system:kube-scheduler");
    for (const mf of MANIFESTS) writeFile(`${K}/manifests/${mf}.yaml`, staticPod(mf, clusterVersion, address, sim));
    writeFile("/var/lib/etcd/member/snap/db", "");
    etcdPki();
    recordCerts(sim, { init: false });
  }
  // the kubelet's kubeconfig needs the CA key to sign its client cert; use the shared one, then keep only ca.crt on workers
  writeFile(`${PKI}/ca.crt`, readFileSync(path.join(clusterPki, "ca.crt")), 0o644);
  const hadKey = existsSync(`${PKI}/ca.key`);
  if (!hadKey) writeFile(`${PKI}/ca.key`, readFileSync(path.join(clusterPki, "ca.key")), 0o600);
  writeKubeconfig(`${K}/kubelet.conf`, c.endpoint, `system:node:${nodeName}`, "system:nodes");
  if (!hadKey) rmSync(`${PKI}/ca.key`, { force: true });
  // kubelet-start writes the cluster's KubeletConfiguration (kubelet-config), not the join file's
  // (cmd/kubeadm/app/phases/kubelet/config.go WriteConfigToDisk with the fetched component config)
  writeFile("/var/lib/kubelet/config.yaml", settings.kubeletText);
  const kubeletProblem = kubeletStarts(kubeletSwitches(settings.kubelet));
  if (kubeletProblem) kubeletNotHealthy(sim, "kubelet-start", kubeletProblem);
  writeJson(path.join(nodesDir(sim), `${sim.host}.json`), { host: sim.host, address, controlPlane, joinedAt: new Date().toISOString() } satisfies NodeRec);
  // kubelet-start: the kubelet registers its Node with its new credentials, through the endpoint
  sim.out("[kubelet-start] Writing kubelet configuration to file \"/var/lib/kubelet/config.yaml\"\n[kubelet-start] Starting the kubelet\n[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap\n");
  try {
    await registerWithKubelet(`${K}/kubelet.conf`, server, nodeSpec({ name: nodeName, address: kubeletAddress(sim, cfg, nodeName), controlPlane, ...(cfg.taints ? { taints: cfg.taints } : {}), networkManagerActive: unitState(sim, "NetworkManager").active }));
  } catch (e) {
    fail(1, `error execution phase kubelet-start: error registering node "${nodeName}" with the API server at ${server}: ${(e as Error).message}\nTo see the stack trace of this error execute with --v=5 or higher`);
  }
  if (controlPlane) {
    // control-plane-join/etcd: a new member, unless one with this peer URL is still listed (etcd.ts)
    const port = bindPortOf(flags, cfg);
    joinEtcd(sim, nodeName, address, port);
    // this control plane serves the API too: its kube-apiserver front passes connections to the store
    copyServingCert(clusterPki);
    try {
      await startDaemon(sim, "apiproxy", ["--listen", `0.0.0.0:${port}`, "--target", `unix:${storeSocket(sim)}`], {}, 10_000);
    } catch (e) {
      apiNotHealthy(address, port, "10.000", (e as Error).message);
    }
    markControlPlane(sim, nodeName, cfg.taints);
  }
  sim.out(
    controlPlane
      ? "\nThis node has joined the cluster and a new control plane instance was created:\n\n* Certificate signing request was sent to apiserver and approval was received.\n* The Kubelet was informed of the new secure connection details.\n* Control plane label and taint were applied to the new node.\n* The Kubernetes control plane instances scaled up.\n* A new etcd member was added to the local/stacked etcd cluster.\n"
      : "\nThis node has joined the cluster:\n* Certificate signing request was sent to apiserver and a response was received.\n* The Kubelet was informed of the new secure connection details.\n\nRun 'kubectl get nodes' on the control-plane to see this node join the cluster.\n",
  );
  return 0;
}

/**
 * kubeadm's control-plane-join/etcd phase against the lab's member list (etcd.ts has the sources): the
 * add needs quorum; a member already listed with this host's peer URL is not added again, and the etcd
 * started for it with an empty data dir panics, so the join times out waiting for the cluster.
 */
function joinEtcd(sim: Sim, name: string, address: string, apiPort: number): void {
  const etcd = loadEtcd(sim.clusterDir);
  if (!etcd) return; // a cluster made before membership was recorded
  const peerURL = `https://${address}:2380`;
  const problem = quorumProblem(sim.labDir, sim.clusterDir);
  if (problem) {
    fail(1, `error execution phase control-plane-join/etcd: error creating local etcd static pod manifest file: etcdserver: request timed out\n(lab: ${problem})\n${STACK_HINT}`);
  }
  sim.out(`[etcd] Announced new etcd member joining to the existing etcd cluster\n[etcd] Creating static Pod manifest for "etcd"\n`);
  const stale = etcd.members.find((m) => m.peerURL === peerURL);
  if (stale) {
    sim.out(`[etcd] Waiting for the new etcd member to join the cluster. This can take up to 40s\n`);
    fail(
      1,
      `error execution phase control-plane-join/etcd: error creating local etcd static pod manifest file: timeout waiting for etcd cluster to be available\n(lab: the etcd member ${stale.id} (name ${stale.name}) with peer URL ${peerURL} is still in the cluster, so kubeadm did not add one; this host's etcd started as that member with an empty data dir and panicked: "tocommit(${1000 + etcd.members.length}) is out of range [lastIndex(0)]. Was the raft log corrupted, truncated, or lost?". Remove the member (etcdctl member remove ${stale.id}) and join again)\n${STACK_HINT}`,
    );
  }
  etcd.members.push({ id: newMemberId(), name, host: sim.host, peerURL, clientURL: `https://${address}:2379`, apiPort });
  saveEtcd(sim.clusterDir, etcd);
}

async function reset(sim: Sim, args: string[]): Promise<number> {
  const cfg = readConfig(sim, flag(parseArgs(args, ["f", "force", "dry-run"]).flags, "config"), "reset");
  const force = args.includes("-f") || args.includes("--force") || cfg.force === true;
  if (!sim.isRoot) fail(1, "error execution phase preflight: user is not running as root");
  sim.out("[reset] Reading configuration from the cluster...\n");
  if (!force) {
    sim.out("[reset] Are you sure you want to proceed? [y/N]: ");
    const answer = sim.stdin().split("\n")[0]?.trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") {
      fail(1, "error execution phase preflight: won't proceed; the user didn't answer (Y|n) in order to continue\nTo see the stack trace of this error execute with --v=5 or higher");
    }
  }
  sim.out("[preflight] Running pre-flight checks\n[reset] Stopping the kubelet service\n");
  stopSimulatedUnit("kubelet");
  // remove-etcd-member, then this host's kube-apiserver front; the store stops with the last member
  if (existsSync(`${K}/manifests/etcd.yaml`)) sim.out("[reset] Removing info for this node's etcd member from the etcd cluster\n");
  for (const w of await stopHostControlPlane(sim)) sim.err(`${w}\n`);
  rmSync(path.join(nodesDir(sim), `${sim.host}.json`), { force: true });
  for (const p of ["/var/lib/etcd", "/var/lib/kubelet", PKI, `${K}/manifests`, `${K}/tmp`]) {
    try {
      if (statSync(p).isDirectory()) {
        for (const e of readdirSync(p)) rmSync(path.join(p, e), { recursive: true, force: true });
      }
    } catch {
      /* absent */
    }
  }
  for (const f of ["admin.conf", "super-admin.conf", "kubelet.conf", "bootstrap-kubelet.conf", "controller-manager.conf", "scheduler.conf"]) rmSync(`${K}/${f}`, { force: true });
  sim.out(
    `[reset] Deleted contents of: [${K}/manifests /var/lib/kubelet ${PKI}]\n[reset] Deleting files: [${K}/admin.conf ${K}/super-admin.conf ${K}/kubelet.conf ${K}/bootstrap-kubelet.conf ${K}/controller-manager.conf ${K}/scheduler.conf]\n\nThe reset process does not clean CNI configuration. To do so, you must remove /etc/cni/net.d\n\nThe reset process does not reset or clean up iptables rules or IPVS tables.\n`,
  );
  return 0;
}

function images(version: string): string[] {
  return [
    `registry.k8s.io/kube-apiserver:${version}`,
    `registry.k8s.io/kube-controller-manager:${version}`,
    `registry.k8s.io/kube-scheduler:${version}`,
    `registry.k8s.io/kube-proxy:${version}`,
    "registry.k8s.io/coredns/coredns:v1.12.0",
    `registry.k8s.io/pause:${kubeadmPauseVersion(minorOf(version))}`,
    "registry.k8s.io/etcd:3.5.21-0",
  ];
}

/** Every kubeadm command but `version`, which command.ts serves from kubeadm-version.ts without loading this module. */
export function kubeadm(sim: Sim, argv: string[]): number | Promise<number> {
  const args = withoutVerbosity(argv);
  const [cmd, ...rest] = args;
  switch (cmd) {
    case "config": {
      if (rest[0] === "images" && (rest[1] === "list" || rest[1] === "pull")) {
        const v = flag(parseArgs(rest.slice(2)).flags, "kubernetes-version") ?? k8sVersion("kubeadm");
        for (const img of images(v.startsWith("v") ? v : `v${v}`)) sim.out(rest[1] === "list" ? `${img}\n` : `[config/images] Pulled ${img}\n`);
        return 0;
      }
      if (rest[0] === "validate") {
        // `kubeadm config validate --config FILE`: the strict decoding (unknown fields are errors here).
        const file = flag(parseArgs(rest.slice(1)).flags, "config");
        if (!file) fail(1, `the --config flag is mandatory\n${STACK_HINT}`);
        let text = "";
        try {
          text = readFileSync(file, "utf8");
        } catch {
          fail(1, `unable to read config file ${JSON.stringify(file)}: open ${file}: no such file or directory\n${STACK_HINT}`);
        }
        const d = decodeKubeadmConfig(text, { kubeadmVersion: k8sVersion("kubeadm"), strict: true });
        for (const w of d.warnings) klogWarning(sim, "common.go:101", w);
        if (d.error) fail(1, `${d.error}\n${STACK_HINT}`);
        sim.out("ok\n");
        return 0;
      }
      fail(1, `kubeadm config ${rest.join(" ")}: not simulated (images list|pull, validate only)`);
    }
    case "init":
      if (rest[0] === "phase") {
        if (rest[1] === "upload-certs") return uploadCerts(sim, rest.slice(2));
        fail(1, `kubeadm init phase ${rest[1] ?? ""}: not simulated (upload-certs only)`);
      }
      return init(sim, rest);
    case "join":
      return join(sim, rest);
    case "reset":
      return reset(sim, rest);
    case "token":
      return token(sim, rest);
    case "certs":
      return kubeadmCerts(sim, rest);
    case "upgrade":
      return kubeadmUpgrade(sim, rest);
    case undefined:
      sim.out("Usage:\n  kubeadm [command]\n\nAvailable Commands (simulated): init, join, reset, token, upgrade, version, config images\n");
      return 0;
    default:
      fail(1, `unknown command "${cmd}" for "kubeadm"\nRun 'kubeadm --help' for usage.`);
  }
}
