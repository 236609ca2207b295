// kubeadm configuration files (kubeadm.k8s.io/v1beta4, Kubernetes 1.31+) and the join guard.
//
// SECRETS: the bootstrap token and the certificate key are passed in as arguments and end up in the
// returned text. The caller must upload that text as a file with mode 0600 (Runner.upload(path, text,
// { mode: 0o600, sudo: true })), pass it with `kubeadm … --config FILE`, never on a command line, never
// log it, and remove it when done.
import { stringify } from "yaml";
import { UsageError } from "../errors.js";
import { sh } from "../ssh/quote.js";
import { parseKubernetesVersion } from "./os.js";

export const KUBEADM_API = "kubeadm.k8s.io/v1beta4";
export const KUBELET_API = "kubelet.config.k8s.io/v1beta1";
export const CONTAINERD_SOCKET = "unix:///run/containerd/containerd.sock";
export const CONTROL_PLANE_TAINT: Taint = { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" };

export interface Taint {
  key: string;
  value?: string;
  effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
}

export interface NodeRegistrationOptions {
  /** Kubernetes node name (the inventory host name). */
  nodeName: string;
  /** kubelet --node-ip; the host's cluster-internal address. */
  nodeIP: string;
  /**
   * Taints registered with the node. Omitted: control planes get node-role.kubernetes.io/control-plane
   * NoSchedule, workers none. An empty list means no taints at all (a schedulable control plane).
   */
  taints?: Taint[];
  criSocket?: string;
}

export interface KubeadmInitOptions extends NodeRegistrationOptions {
  /** "1.33" → `stable-1.33` (kubeadm resolves it online); "1.33.2" → v1.33.2. Offline: pass a patch. */
  kubernetesVersion: string;
  /** Address the local API server advertises. */
  advertiseAddress: string;
  /** Default 6443. */
  bindPort?: number;
  /** host:port every node uses to reach the API (the VIP, a load balancer or the first control plane). */
  controlPlaneEndpoint: string;
  podSubnet: string;
  serviceSubnet: string;
  /** Extra API server certificate SANs (VIP, load balancer names …). */
  certSANs?: string[];
  clusterName?: string;
  /** Registry to pull control-plane images from (offline mirror). */
  imageRepository?: string;
  /** SECRET. A bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}) to create, so the caller knows the join token. */
  bootstrapToken?: string;
  /** Bootstrap token lifetime, Go duration; default 24h0m0s (kubeadm's own default). */
  bootstrapTokenTTL?: string;
  /** SECRET. 64 hex chars; with `--upload-certs`, the key the control-plane certificates are encrypted with. */
  certificateKey?: string;
}

export interface KubeadmJoinOptions extends NodeRegistrationOptions {
  kind: "worker" | "control-plane";
  /** host:port of the API (the control-plane endpoint). */
  apiServerEndpoint: string;
  /** SECRET. Bootstrap token. */
  token: string;
  /** "sha256:<64 hex>" hashes of the cluster CA's public key. */
  caCertHashes: string[];
  /** Control-plane joins: the address this node's API server advertises. */
  advertiseAddress?: string;
  /** Control-plane joins: default 6443. */
  bindPort?: number;
  /** SECRET. Control-plane joins: the certificate key from `kubeadm init --upload-certs`. */
  certificateKey?: string;
}

const TOKEN_RE = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
const CERT_KEY_RE = /^[a-f0-9]{64}$/;
const CA_HASH_RE = /^sha256:[a-f0-9]{64}$/;

function check(ok: boolean, message: string): void {
  if (!ok) throw new UsageError(message);
}

function checkPort(port: number, field: string): number {
  check(Number.isInteger(port) && port >= 1 && port <= 65535, `${field} must be a port number 1-65535, got ${port}`);
  return port;
}

/** The kubernetesVersion field: v1.33.2 for a patch, the stable-1.33 release label for a minor. */
export function kubeadmVersionField(version: string): string {
  const v = parseKubernetesVersion(version);
  return v.patch ? `v${v.patch}` : `stable-${v.minor}`;
}

function nodeRegistration(o: NodeRegistrationOptions, controlPlane: boolean): Record<string, unknown> {
  check(o.nodeName.length > 0, "nodeName must not be empty");
  check(o.nodeIP.length > 0, "nodeIP must not be empty");
  const taints = o.taints ?? (controlPlane ? [CONTROL_PLANE_TAINT] : undefined);
  return {
    name: o.nodeName,
    criSocket: o.criSocket ?? CONTAINERD_SOCKET,
    // v1beta4: extra args are a list of name/value pairs.
    kubeletExtraArgs: [{ name: "node-ip", value: o.nodeIP }],
    ...(taints !== undefined ? { taints: taints.map((t) => ({ ...t })) } : {}),
  };
}

function toYaml(docs: Record<string, unknown>[]): string {
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join("---\n");
}

/** InitConfiguration + ClusterConfiguration + KubeletConfiguration, as one multi-document YAML text. */
export function kubeadmInitConfig(o: KubeadmInitOptions): string {
  if (o.bootstrapToken !== undefined) check(TOKEN_RE.test(o.bootstrapToken), "bootstrapToken must look like abcdef.0123456789abcdef");
  if (o.certificateKey !== undefined) check(CERT_KEY_RE.test(o.certificateKey), "certificateKey must be 64 lower-case hex characters");
  check(o.controlPlaneEndpoint.length > 0, "controlPlaneEndpoint must not be empty");
  const init: Record<string, unknown> = {
    apiVersion: KUBEADM_API,
    kind: "InitConfiguration",
    ...(o.bootstrapToken !== undefined
      ? {
          bootstrapTokens: [
            {
              token: o.bootstrapToken,
              ttl: o.bootstrapTokenTTL ?? "24h0m0s",
              usages: ["signing", "authentication"],
              groups: ["system:bootstrappers:kubeadm:default-node-token"],
            },
          ],
        }
      : {}),
    ...(o.certificateKey !== undefined ? { certificateKey: o.certificateKey } : {}),
    nodeRegistration: nodeRegistration(o, true),
    localAPIEndpoint: { advertiseAddress: o.advertiseAddress, bindPort: checkPort(o.bindPort ?? 6443, "bindPort") },
  };
  const cluster: Record<string, unknown> = {
    apiVersion: KUBEADM_API,
    kind: "ClusterConfiguration",
    ...(o.clusterName ? { clusterName: o.clusterName } : {}),
    kubernetesVersion: kubeadmVersionField(o.kubernetesVersion),
    controlPlaneEndpoint: o.controlPlaneEndpoint,
    ...(o.imageRepository ? { imageRepository: o.imageRepository } : {}),
    networking: { podSubnet: o.podSubnet, serviceSubnet: o.serviceSubnet },
    ...(o.certSANs?.length ? { apiServer: { certSANs: [...new Set(o.certSANs)] } } : {}),
  };
  const kubelet: Record<string, unknown> = {
    apiVersion: KUBELET_API,
    kind: "KubeletConfiguration",
    cgroupDriver: "systemd",
  };
  return toYaml([init, cluster, kubelet]);
}

/** JoinConfiguration for a worker or (with certificateKey and advertiseAddress) a control plane. */
export function kubeadmJoinConfig(o: KubeadmJoinOptions): string {
  check(TOKEN_RE.test(o.token), "token must look like abcdef.0123456789abcdef");
  check(o.caCertHashes.length > 0, "caCertHashes must hold at least one sha256:<hex> hash");
  for (const h of o.caCertHashes) check(CA_HASH_RE.test(h), `caCertHashes entry ${JSON.stringify(h)} must look like sha256:<64 hex>`);
  check(o.apiServerEndpoint.length > 0, "apiServerEndpoint must not be empty");
  const cp = o.kind === "control-plane";
  const join: Record<string, unknown> = {
    apiVersion: KUBEADM_API,
    kind: "JoinConfiguration",
    discovery: {
      bootstrapToken: { apiServerEndpoint: o.apiServerEndpoint, token: o.token, caCertHashes: [...o.caCertHashes] },
    },
    nodeRegistration: nodeRegistration(o, cp),
  };
  if (cp) {
    check(o.certificateKey !== undefined && CERT_KEY_RE.test(o.certificateKey), "a control-plane join needs certificateKey (64 lower-case hex characters)");
    check(Boolean(o.advertiseAddress), "a control-plane join needs advertiseAddress");
    join.controlPlane = {
      localAPIEndpoint: { advertiseAddress: o.advertiseAddress, bindPort: checkPort(o.bindPort ?? 6443, "bindPort") },
      certificateKey: o.certificateKey,
    };
  } else {
    check(o.certificateKey === undefined, "a worker join takes no certificateKey");
  }
  return toYaml([join]);
}

export const KUBELET_CONF = "/etc/kubernetes/kubelet.conf";
export const APISERVER_MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml";

/** Probe: exit 0 when this node has already joined (as a control plane: also runs an API server). */
export function joinGuardProbe(kind: "worker" | "control-plane"): string {
  return kind === "control-plane"
    ? sh`[ -f ${KUBELET_CONF} ] && [ -f ${APISERVER_MANIFEST} ]`
    : sh`[ -f ${KUBELET_CONF} ]`;
}

/** `kubeadm init` with an uploaded config file; the certificates are uploaded for control-plane joins. */
export function kubeadmInitCommand(configPath: string): string {
  return sh`kubeadm init --config ${configPath} --upload-certs`;
}

/** `kubeadm join` with an uploaded config file (all secrets live in the file). */
export function kubeadmJoinCommand(configPath: string): string {
  return sh`kubeadm join --config ${configPath}`;
}
