// The inventory schema: the single source of truth for the inventory's shape. The TypeScript types
// below and inventories/schema.json (`kubesmith inventory schema`) are both derived from it.
// Rules that span several fields (unique names, CIDR overlaps, VIP placement …) live in rules.ts.
import { z } from "zod";
import { KUBERNETES } from "../versions.js";
import { interfaceName, labelValue as k8sLabelValue, qualifiedName } from "./names.js";

export const API_VERSION = "kubesmith.io/v1alpha1";

const ipv4 = z.ipv4({ error: "must be an IPv4 address like 198.18.0.10" });
const cidr4 = z.cidrv4({ error: "must be an IPv4 CIDR like 10.244.0.0/16" });
const port = z.number().int().min(1).max(65535);
/** Go-style duration as used across the Kubernetes ecosystem: 30s, 5m, 1m30s, 500ms. */
const duration = z
  .string()
  .regex(/^(\d+(ms|s|m|h))+$/, { error: "must be a duration like 30s, 5m or 1m30s" });
/** A time in seconds (a number) or a duration string: connectTimeout: 10, retryBudget: 20s. */
const seconds = z.union([z.number().min(0).max(86_400), duration]);
const positiveSeconds = z.union([z.number().positive().max(86_400), duration]);
/** A DNS-1123 label: what kubeadm and the API accept as a node name. */
const nodeName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
    error: "must be lower-case letters, digits and '-', starting and ending with a letter or digit",
  })
  .max(63);
/**
 * A secret: must come from the environment through ${VAR} substitution, never written inline.
 * The loader marks every string that came from ${…} and rules.ts refuses literal secrets.
 */
const secret = z.string().min(1).meta({
  description: "A secret. Write it as ${ENV_VAR}; the value is read from the environment, never from the file.",
});

export const HostKeyPolicy = z.enum(["strict", "accept-new", "off"]).meta({
  description:
    "strict: the host key must already be in the known_hosts file; accept-new: trust on first use and record it (default); off: no check (warns loudly). A changed key is always refused.",
});

const sshAuthFields = {
  user: z.string().min(1).optional().meta({ description: "Login user (default root)." }),
  port: port.optional().meta({ description: "SSH port (default 22)." }),
  identityFile: z.string().min(1).optional().meta({ description: "Path to a private key; ~ is expanded." }),
  passphrase: secret.optional().meta({ description: "Passphrase of identityFile, as ${ENV_VAR}." }),
  agent: z
    .union([z.boolean(), z.string().min(1)])
    .optional()
    .meta({ description: "Use the SSH agent: true for $SSH_AUTH_SOCK, or a socket path." }),
  password: secret.optional().meta({ description: "Login password, as ${ENV_VAR}." }),
};

export const BastionSchema = z
  .strictObject({
    address: z.string().min(1).meta({ description: "Jump host address (IP or DNS name)." }),
    ...sshAuthFields,
  })
  .meta({ description: "A jump host; the target's own host key is still verified through it." });

export const SshDefaultsSchema = z
  .strictObject({
    ...sshAuthFields,
    bastion: BastionSchema.optional(),
    hostKeyPolicy: HostKeyPolicy.optional(),
    knownHostsFile: z
      .string()
      .min(1)
      .optional()
      .meta({ description: "known_hosts file to verify against (default ~/.kubesmith/known_hosts)." }),
    connectTimeout: positiveSeconds.optional().meta({
      description: "One connection attempt (TCP, SSH handshake, login): seconds, or a duration like 10s (default 10).",
    }),
    retryBudget: seconds.optional().meta({
      description:
        "How long a connection that failed on the network (refused, timed out, reset) is retried, with backoff (0.5s doubling, at most 5s): seconds, or a duration like 20s (default 20; 0: no retries). Auth and host-key failures are never retried.",
    }),
    commandTimeout: duration.optional().meta({ description: "Per remote command (default 10m)." }),
    keepaliveInterval: duration.optional().meta({ description: "SSH keepalive interval (default 15s)." }),
    connectRetries: z.number().int().min(0).max(20).optional().meta({
      description: "At most this many retries of a failed connection, within retryBudget (default: as many as fit).",
    }),
  })
  .meta({ description: "SSH settings for every host; a host's own ssh: block overrides them." });

export const SudoSchema = z.union([
  z.boolean().meta({ description: "true: passwordless sudo for a non-root user; false: none (login as root)." }),
  z.strictObject({ password: secret.meta({ description: "sudo password, as ${ENV_VAR}; fed on stdin." }) }),
]);

export const Role = z.enum(["control-plane", "worker", "frontend"]);

/** What kubesmith does with a host's firewall (firewalld on RHEL-likes; Debian/Ubuntu: nothing yet). */
export const FirewallMode = z.enum(["manage", "disable", "ignore"]);
const FIREWALL_DESCRIPTION =
    "The hosts' firewall (firewalld on RHEL-likes). manage (default): open what the host's roles need in firewalld's default zone (control plane: 6443, 2379-2380, 10250, 10259, 10257; " +
    "every node: 10250, 10256, Calico BGP 179/tcp and IP-in-IP; workers and frontends: NodePorts 30000-32767; frontends: 80, 443; " +
    "keepalived hosts: VRRP), at runtime and permanently. disable: stop and disable firewalld. ignore: leave it alone (open the ports yourself).";

export const TaintSchema = z.strictObject({
  key: qualifiedName,
  value: k8sLabelValue.optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
});

const labelKey = qualifiedName;
const labelValue = k8sLabelValue;

export const HostSchema = z.strictObject({
  name: nodeName.meta({ description: "Node name; becomes the host's Kubernetes node name." }),
  address: z.string().min(1).meta({ description: "IPv4 address kubesmith connects to and the node advertises." }),
  internalAddress: ipv4.optional().meta({ description: "Address used inside the cluster, when it differs from address." }),
  port: port.optional(),
  user: z.string().min(1).optional(),
  ssh: SshDefaultsSchema.omit({ hostKeyPolicy: true, knownHostsFile: true }).optional(),
  sudo: SudoSchema.optional().meta({ description: "How to become root; default: true when user is not root." }),
  roles: z.array(Role).min(1, { error: "needs at least one role" }).meta({
    description: "control-plane, worker, frontend. A frontend node is a worker labelled role=frontend.",
  }),
  labels: z.record(labelKey, labelValue).optional(),
  taints: z.array(TaintSchema).optional(),
  firewall: FirewallMode.optional().meta({ description: "This host's firewall; overrides cluster.firewall." }),
});

/** Prefix length of the network a VIP lives in; rules.ts requires the VIP in that network of every carrier. */
const vipPrefix = z.number().int().min(8).max(30).optional().meta({
  description: "Prefix length of the hosts' network that holds the VIP, e.g. 16 on a /16 LAN (default 24).",
});

/** VRRP settings of the control-plane VIP (keepalived); see advertIntProblem in scripts/keepalived.ts. */
const vrrpVersion = z.union([z.literal(2), z.literal(3)]).optional().meta({
  description:
    "VRRP version (default 3): 3 allows sub-second adverts and has no authentication (use a dedicated network); 2 adds PASS authentication (plaintext on the wire) with whole-second adverts only.",
});
const advertInt = z.number().min(0.01).max(255).optional().meta({
  description:
    "Seconds between VRRP adverts (default 0.1 with version 3, 1 with version 2): 0.01-255 in steps of 0.01 with version 3, whole seconds with version 2. Failover on host death takes about 3.5 intervals; shorter intervals cost more packets and flap sooner on a loaded host or a lossy link.",
});
const vrrpUnicast = z.boolean().optional().meta({
  description: "Send VRRP adverts by unicast to the other hosts of the VIP (default true); false: multicast to 224.0.0.18.",
});

export const ControlPlaneEndpointSchema = z.union([
  z
    .strictObject({
      vip: ipv4.meta({ description: "Virtual IP held by keepalived on the control planes." }),
      interface: interfaceName.meta({ description: "Interface that carries the VIP, e.g. eth0." }),
      prefix: vipPrefix,
      port: port.optional(),
      vrrpVersion,
      advertInt,
      unicast: vrrpUnicast,
    })
    .superRefine((v, ctx) => {
      const version = v.vrrpVersion ?? 3;
      // Out of range: the field's own check says so already.
      if (v.advertInt === undefined || !(v.advertInt >= 0.01 && v.advertInt <= 255)) return;
      if (version === 2 && !Number.isInteger(v.advertInt))
        ctx.addIssue({ code: "custom", path: ["advertInt"], message: "must be whole seconds with vrrpVersion 2 (fractions need vrrpVersion 3)" });
      else if (version === 3 && Math.abs(v.advertInt * 100 - Math.round(v.advertInt * 100)) > 1e-6)
        ctx.addIssue({ code: "custom", path: ["advertInt"], message: "must be a multiple of 0.01 seconds (VRRPv3 counts centiseconds)" });
    })
    .meta({ description: "A keepalived virtual IP on the control-plane hosts." }),
  z
    .strictObject({
      loadBalancer: z.string().min(1).meta({ description: "An external load balancer, host or host:port." }),
      port: port.optional(),
    })
    .meta({ description: "An external load balancer in front of the API servers." }),
]);

export const AddonSchema = z.strictObject({
  enabled: z.boolean().default(true),
  values: z.record(z.string(), z.unknown()).optional().meta({ description: "Overrides of the bundle's values.yaml." }),
});

export const OfflineSchema = z
  .strictObject({
    aptRepo: z.url().optional().meta({
      description:
        "Mirror of the pkgs.k8s.io Debian repository, also carrying containerd.io 2.x (as Docker's repository does); trusted without a key: your own network only.",
    }),
    rpmRepo: z.url().optional().meta({ description: "Mirror (baseurl) of the pkgs.k8s.io RPM repository, also carrying containerd.io." }),
    imageRepository: z
      .string()
      .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*$/, {
        error: "must be a registry host with an optional path, like registry.example.com:5000 or registry.example.com/k8s (no scheme, no tag)",
      })
      .optional()
      .meta({
        description:
          "One registry (host[:port][/path]) every image is pulled from: kubeadm's imageRepository (control-plane images), containerd's sandbox (pause) image, " +
          "every image of every add-on bundle and Calico's images. The image's registry host is replaced and its path and tag kept: " +
          "quay.io/calico/node:v3.32.1 -> REPO/calico/node:v3.32.1, traefik:v3 (docker.io/library/traefik:v3) -> REPO/library/traefik:v3, " +
          "registry.k8s.io/pause:3.10.1 -> REPO/pause:3.10.1. The registry must hold copies at those paths.",
      }),
    registryMirrors: z
      .record(
        z.string().regex(/^(_default|[A-Za-z0-9.-]+(:\d+)?)$/, { error: "must be a registry host like docker.io or host:port (or _default)" }),
        z.array(z.url()).min(1),
      )
      .optional()
      .meta({
        description:
          "Pull-through mirrors per registry host, tried in order before the registry itself, e.g. {docker.io: [http://198.18.0.1:5000]}. " +
          "Written as containerd hosts.toml files under /etc/containerd/certs.d/<host>/ (containerd's config_path mechanism).",
      }),
  })
  .meta({ description: "Install without the internet: packages and images from mirrors on your network." });

/** An http(s) proxy URL: scheme, optional user:password@, host, optional port, nothing after the port but "/". */
const proxyUrl = z
  .string()
  .regex(/^https?:\/\/([^\s@/"'\\]+@)?[A-Za-z0-9.\-[\]:]+(:\d{1,5})?\/?$/, {
    error: "must be a proxy URL like http://proxy.example.com:3128 (http:// or https://, optional user:password@, no path)",
  });
/** A NO_PROXY entry: a host name, a domain (.example.com), an IPv4 address or CIDR, optionally with :port. */
const noProxyEntry = z.string().regex(/^(\*|\.?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(\/\d{1,2})?(:\d{1,5})?)$/, {
  error: "must be a host name, .domain, IPv4 address or CIDR (optionally :port), without spaces or commas",
});

export const ProxySchema = z
  .strictObject({
    http: proxyUrl.optional().meta({ description: "HTTP_PROXY: the proxy for http:// URLs (and for https:// ones when https is not set)." }),
    https: proxyUrl.optional().meta({ description: "HTTPS_PROXY: the proxy for https:// URLs (default: http)." }),
    noProxy: z.array(noProxyEntry).optional().meta({
      description:
        "Extra NO_PROXY entries. kubesmith always adds localhost, 127.0.0.1, every host's name and addresses, the pod and service CIDRs, the VIPs, " +
        "the control-plane endpoint host, .svc and .svc.cluster.local.",
    }),
  })
  .refine((p) => p.http !== undefined || p.https !== undefined, { error: "needs http or https (or both)" })
  .meta({
    description:
      "An HTTP(S) proxy for the hosts: apt/dnf, containerd (image pulls) and the kubelet. A URL with user:password@ is a secret: write it as ${ENV_VAR}.",
  });

export const ClusterSchema = z.strictObject({
  name: nodeName.meta({ description: "Cluster name; used for the kubeconfig context and state directory." }),
  kubernetesVersion: z
    .string()
    .regex(/^1\.\d{2}(\.\d+)?$/, { error: `must be a Kubernetes minor like ${KUBERNETES.default} (or a patch like ${KUBERNETES.default}.2)` })
    .meta({ description: `Kubernetes minor (newest patch) or exact patch; kubesmith installs ${KUBERNETES.supported.join(", ")} (default in \`init\`: ${KUBERNETES.default}).` }),
  podCIDR: cidr4.default("10.244.0.0/16"),
  serviceCIDR: cidr4.default("10.96.0.0/12"),
  controlPlaneEndpoint: ControlPlaneEndpointSchema.optional().meta({
    description: "Required with more than one control plane; otherwise the first control plane's address is used.",
  }),
  edgeVIP: z
    .strictObject({ vip: ipv4, interface: interfaceName, prefix: vipPrefix })
    .optional()
    .meta({ description: "Virtual IP on the frontend nodes (keepalived-edge add-on)." }),
  firewall: FirewallMode.optional().meta({ description: FIREWALL_DESCRIPTION }),
  maxFailedWorkers: z
    .union([
      z.number().int().min(0),
      z.string().regex(/^((100|\d{1,2}(\.\d+)?)%|\d+)$/, { error: "must be a number of workers like 2 or a share like 10%" }),
    ])
    .optional()
    .meta({
      description:
        "How many workers (and frontends) may fail in `up` (connect, facts, preflight, prepare, join) while the run goes on with the others: a number, or a share of the workers like 10% (rounded down). Default 0: any failure stops the run. Control-plane failures always stop it; the run still exits non-zero, naming the failed hosts. --max-failed-workers overrides it.",
    }),
});

export const InventorySchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION).optional(),
    kind: z.literal("Cluster").optional(),
    cluster: ClusterSchema,
    ssh: SshDefaultsSchema.optional(),
    hosts: z.array(HostSchema).min(1, { error: "needs at least one host" }),
    addons: z.record(z.string(), AddonSchema).optional(),
    offline: OfflineSchema.optional(),
    proxy: ProxySchema.optional(),
  })
  .meta({ title: "kubesmith inventory", description: "One cluster: its settings, hosts and add-ons." });

export type Inventory = z.infer<typeof InventorySchema>;
export type HostSpec = z.infer<typeof HostSchema>;
export type SshDefaults = z.infer<typeof SshDefaultsSchema>;
export type Bastion = z.infer<typeof BastionSchema>;
export type RoleName = z.infer<typeof Role>;
export type FirewallModeName = z.infer<typeof FirewallMode>;
export type ProxySpec = z.infer<typeof ProxySchema>;

/** Add-ons that need frontend nodes to land on. */
export const EDGE_ADDONS = ["traefik", "keepalived-edge"] as const;

export function inventoryJsonSchema(): unknown {
  return z.toJSONSchema(InventorySchema, { io: "input", target: "draft-2020-12" });
}
