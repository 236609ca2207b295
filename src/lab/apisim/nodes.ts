// Nodes as the simulated kubeadm registers them. A Node is created by POSTing it to /api/v1/nodes with
// the admin certificate (what kubelet's registration does on a real cluster); the controller then keeps
// its conditions: Ready=False (KubeletNotReady, "cni plugin not initialized") until a CNI DaemonSet is
// scheduled on it and, for Calico, its contract holds (calico.ts), Ready=True after.
//
// Shape (only metadata.name is required; the rest is what `kubectl get nodes -o wide` shows):
//   metadata.labels: kubernetes.io/hostname=<name>, kubernetes.io/os=linux, kubernetes.io/arch=amd64,
//     beta.kubernetes.io/{os,arch}, and on control planes node-role.kubernetes.io/control-plane="" plus
//     node.kubernetes.io/exclude-from-external-load-balancers=""
//   metadata.annotations: kubeadm.alpha.kubernetes.io/cri-socket, volumes.kubernetes.io/controller-managed-attach-detach
//   spec.taints (control planes): node-role.kubernetes.io/control-plane:NoSchedule (as kubeadm init/join sets)
//   spec.podCIDR / podCIDRs when given
//   status.addresses: InternalIP <address>, Hostname <name>
//   status.nodeInfo: kubeletVersion, kubeProxyVersion, containerRuntimeVersion, osImage, kernelVersion,
//     operatingSystem=linux, architecture
//   status.capacity / allocatable: cpu, memory, pods

import { request } from "node:https";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { LabError } from "../../errors.js";
import { arrOf, objOf, strOf, type KObject } from "./types.js";

export interface NodeSpecInput {
  name: string;
  address: string;
  controlPlane?: boolean;
  kubeletVersion?: string;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
  osImage?: string;
  kernelVersion?: string;
  containerRuntimeVersion?: string;
  architecture?: string;
  cpu?: string;
  memory?: string;
  podCIDR?: string;
  criSocket?: string;
  /** The host's interfaces in kernel order (written to INTERFACES_ANNOTATION). */
  interfaces?: NodeInterface[];
  /** Calico's device patterns the host's running NetworkManager would manage (NM_MANAGED_ANNOTATION). */
  networkManagerManages?: string[];
}

export interface NodeInterface {
  name: string;
  /** IPv4 addresses with prefix, e.g. 198.18.5.11/24. */
  ipv4: string[];
  /** The interface of the IPv4 default route. */
  defaultRoute?: boolean;
}

/**
 * A lab seam, not a Kubernetes annotation: the simulated kubelet records its host's interfaces (JSON list of
 * NodeInterface) so that the API simulator can play calico-node's address autodetection on that node
 * (calico.ts). Real calico-node reads the interfaces itself; the simulator runs no pods.
 */
export const INTERFACES_ANNOTATION = "sim.kubesmith.io/interfaces";

/**
 * A lab seam like INTERFACES_ANNOTATION: Calico's interface patterns (cali*, tunl*, vxlan.calico) that the
 * host's running NetworkManager would manage, as a JSON list, recorded by the simulated kubelet
 * (sim/networkmanager.ts has the sources). Absent or [] when NetworkManager leaves them alone.
 */
export const NM_MANAGED_ANNOTATION = "sim.kubesmith.io/networkmanager-manages";

/** The interfaces a Node's annotation lists; undefined when it has none (a node a test made by hand). */
export function nodeInterfaces(node: KObject): NodeInterface[] | undefined {
  const raw = node.metadata.annotations?.[INTERFACES_ANNOTATION];
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as unknown;
    return Array.isArray(v) ? (v as NodeInterface[]) : undefined;
  } catch {
    return undefined;
  }
}

export function nodeObject(n: NodeSpecInput): KObject {
  const arch = n.architecture ?? "amd64";
  const labels: Record<string, string> = {
    "beta.kubernetes.io/arch": arch,
    "beta.kubernetes.io/os": "linux",
    "kubernetes.io/arch": arch,
    "kubernetes.io/hostname": n.name,
    "kubernetes.io/os": "linux",
    ...(n.controlPlane ? { "node-role.kubernetes.io/control-plane": "", "node.kubernetes.io/exclude-from-external-load-balancers": "" } : {}),
    ...(n.labels ?? {}),
  };
  const taints = n.taints ?? (n.controlPlane ? [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }] : []);
  const capacity = { cpu: n.cpu ?? "2", "ephemeral-storage": "20470Mi", memory: n.memory ?? "2030940Ki", pods: "110" };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: n.name,
      labels,
      annotations: {
        "kubeadm.alpha.kubernetes.io/cri-socket": n.criSocket ?? "unix:///var/run/containerd/containerd.sock",
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
        ...(n.interfaces ? { [INTERFACES_ANNOTATION]: JSON.stringify(n.interfaces) } : {}),
        ...(n.networkManagerManages?.length ? { [NM_MANAGED_ANNOTATION]: JSON.stringify(n.networkManagerManages) } : {}),
      },
    },
    spec: {
      ...(taints.length ? { taints } : {}),
      ...(n.podCIDR ? { podCIDR: n.podCIDR, podCIDRs: [n.podCIDR] } : {}),
    },
    status: {
      addresses: [
        { address: n.address, type: "InternalIP" },
        { address: n.name, type: "Hostname" },
      ],
      capacity,
      allocatable: capacity,
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: arch,
        bootID: "",
        containerRuntimeVersion: n.containerRuntimeVersion ?? "containerd://1.7.27",
        kernelVersion: n.kernelVersion ?? "6.1.0-sim",
        kubeProxyVersion: n.kubeletVersion ?? "v1.36.3",
        kubeletVersion: n.kubeletVersion ?? "v1.36.3",
        machineID: "",
        operatingSystem: "linux",
        osImage: n.osImage ?? "Debian GNU/Linux 12 (bookworm)",
        systemUUID: "",
      },
    },
  };
}

interface Credentials {
  server: string;
  ca: string;
  cert: string;
  key: string;
}

/** Server and credentials of the current context of a kubeconfig with embedded data (admin.conf). */
export function credentialsFromKubeconfig(file: string): Credentials {
  const cfg = objOf(parseYaml(readFileSync(file, "utf8")));
  const ctxName = strOf(cfg["current-context"]);
  const ctx = objOf(objOf(arrOf(cfg["contexts"]).find((c) => objOf(c)["name"] === ctxName))["context"]);
  const cluster = objOf(objOf(arrOf(cfg["clusters"]).find((c) => objOf(c)["name"] === ctx["cluster"]))["cluster"]);
  const user = objOf(objOf(arrOf(cfg["users"]).find((u) => objOf(u)["name"] === ctx["user"]))["user"]);
  const dec = (v: unknown): string => Buffer.from(strOf(v) ?? "", "base64").toString("utf8");
  const server = strOf(cluster["server"]);
  if (!server || !cluster["certificate-authority-data"] || !user["client-certificate-data"] || !user["client-key-data"]) {
    throw new LabError(`${file} has no server with embedded certificate data in its current context`);
  }
  return { server, ca: dec(cluster["certificate-authority-data"]), cert: dec(user["client-certificate-data"]), key: dec(user["client-key-data"]) };
}

/** One JSON request to the API with client-certificate auth; resolves with status code and parsed body. */
export async function apiRequest(creds: Credentials, method: string, path: string, body?: unknown, contentType = "application/json"): Promise<{ status: number; body: unknown }> {
  // Clients of a real API server (kubeadm's and the kubelet's client-go) bound each request (kubeadm's
  // requests carry `?timeout=10s`, e.g. `Get ".../cluster-info?timeout=10s"` in its errors) and retry
  // failed ones with backoff until their phase's own timeout (kubeadm v1beta4 `timeouts.discovery` 5m;
  // the kubelet retries its registration forever). Here: a 10 s bound per try and a few tries over about a
  // minute, for a connection the server reset or never answered. A refused or unroutable connection is
  // not retried: it fails at once, as the tests of unreachable endpoints expect.
  const delays = [500, 1000, 2000, 4000, 8000, 15_000, 30_000];
  for (let attempt = 0; ; attempt++) {
    try {
      return await apiRequestOnce(creds, method, path, body, contentType, 10_000);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const transient = code === "ECONNRESET" || code === "EPIPE" || code === "ETIMEDOUT" || /socket hang up|Client\.Timeout/.test((e as Error).message);
      if (!transient || attempt >= delays.length) throw e;
      await new Promise((r) => setTimeout(r, delays[attempt]));
    }
  }
}

function apiRequestOnce(creds: Credentials, method: string, path: string, body: unknown, contentType: string, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      new URL(path, creds.server),
      {
        method,
        ca: creds.ca,
        cert: creds.cert,
        key: creds.key,
        headers: { Accept: "application/json", ...(data ? { "Content-Type": contentType, "Content-Length": Buffer.byteLength(data) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            /* plain text */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on("error", reject);
      },
    );
    // Go's http.Client wording for a request past its Timeout
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`net/http: request canceled (Client.Timeout exceeded while awaiting headers)`), { code: "ETIMEDOUT" })));
    req.on("error", reject);
    req.end(data);
  });
}

/**
 * Register (or refresh) a Node through the API, as kubelet does at its first start: server-side apply
 * with field manager "kubelet", so repeating it is harmless. Throws LabError with the API's message.
 */
export async function registerNode(kubeconfigFile: string, node: NodeSpecInput): Promise<KObject> {
  const creds = credentialsFromKubeconfig(kubeconfigFile);
  const obj = nodeObject(node);
  const { status: _status, ...main } = obj;
  const path = `/api/v1/nodes/${encodeURIComponent(node.name)}`;
  const r = await apiRequest(creds, "PATCH", `${path}?fieldManager=kubelet&force=true`, main, "application/apply-patch+yaml");
  if (r.status >= 300) throw new LabError(`registering node ${node.name}: ${strOf(objOf(r.body)["message"]) ?? `HTTP ${r.status}`}`);
  const s = await apiRequest(creds, "PATCH", `${path}/status?fieldManager=kubelet&force=true`, { apiVersion: "v1", kind: "Node", metadata: { name: node.name }, status: obj["status"] }, "application/apply-patch+yaml");
  if (s.status >= 300) throw new LabError(`registering node ${node.name}: ${strOf(objOf(s.body)["message"]) ?? `HTTP ${s.status}`}`);
  return s.body as KObject;
}

/** Delete a Node through the API (kubeadm reset / kubectl delete node); a missing node is fine. */
export async function deleteNode(kubeconfigFile: string, name: string): Promise<void> {
  const creds = credentialsFromKubeconfig(kubeconfigFile);
  const r = await apiRequest(creds, "DELETE", `/api/v1/nodes/${encodeURIComponent(name)}`);
  if (r.status >= 300 && r.status !== 404) throw new LabError(`deleting node ${name}: ${strOf(objOf(r.body)["message"]) ?? `HTTP ${r.status}`}`);
}
