// Answers -> a commented inventory file. Pure: the same answers always give the same text. SSH settings
// shared by every host are written once under ssh:, the rest per host. validateGenerated() runs the text
// through the real inventory loader (schema + cross-field rules), so init never writes an inventory that
// `kubesmith inventory validate` would refuse.
import { Document, isMap, isScalar, type Node, type YAMLMap } from "yaml";
import { type InventoryIssue, InventoryError } from "../errors.js";
import { type LoadedInventory, parseInventory } from "../inventory/load.js";
import { API_VERSION } from "../inventory/schema.js";
import { ADDON_CATALOG, ADDON_NAMES, type Answers, type HostAnswer } from "./answers.js";

export interface GenerateOptions {
  /** One comment line per host name (e.g. what init found on it: OS, CPUs, memory). */
  notes?: Record<string, string>;
  /** The file name used in the "how to use it" header; default inventory.yaml. */
  fileName?: string;
}

type SshField = "user" | "port" | "identityFile" | "agent" | "bastion";
const SSH_FIELDS: SshField[] = ["user", "port", "identityFile", "agent", "bastion"];

/** The fields every host has in common (same value, or all unset), to write once under ssh:. */
function sharedSshFields(hosts: HostAnswer[]): Set<SshField> {
  const shared = new Set<SshField>();
  for (const f of SSH_FIELDS) {
    const first = JSON.stringify(hosts[0]?.[f]);
    if (hosts.every((h) => JSON.stringify(h[f]) === first)) shared.add(f);
  }
  return shared;
}

function compact<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The inventory as a plain object, before comments. */
export function inventoryObject(a: Answers): Record<string, unknown> {
  const shared = sharedSshFields(a.hosts);
  const first = a.hosts[0];
  const ssh = compact({
    user: shared.has("user") ? first?.user : undefined,
    port: shared.has("port") ? first?.port : undefined,
    identityFile: shared.has("identityFile") ? first?.identityFile : undefined,
    agent: shared.has("agent") ? first?.agent : undefined,
    bastion: shared.has("bastion") && first?.bastion ? compact({ ...first.bastion }) : undefined,
    knownHostsFile: a.knownHostsFile,
    hostKeyPolicy: a.hostKeyPolicy,
  });
  const hosts = a.hosts.map((h) => {
    const own = compact({
      identityFile: shared.has("identityFile") ? undefined : h.identityFile,
      agent: shared.has("agent") ? undefined : h.agent,
      bastion: shared.has("bastion") || !h.bastion ? undefined : compact({ ...h.bastion }),
    });
    return compact({
      name: h.name,
      address: h.address,
      user: shared.has("user") ? undefined : h.user,
      port: shared.has("port") ? undefined : h.port,
      ssh: Object.keys(own).length > 0 ? own : undefined,
      sudo: h.sudoPasswordEnv ? { password: `\${${h.sudoPasswordEnv}}` } : undefined,
      roles: h.roles,
    });
  });
  const cluster = compact({
    name: a.name,
    kubernetesVersion: a.kubernetesVersion,
    podCIDR: a.podCIDR,
    serviceCIDR: a.serviceCIDR,
    controlPlaneEndpoint: a.controlPlaneEndpoint ? compact({ ...a.controlPlaneEndpoint }) : undefined,
    edgeVIP: a.edgeVIP ? compact({ ...a.edgeVIP }) : undefined,
  });
  // Every bundle is named: the chosen ones on, the rest explicitly off (most bundles are on by default).
  const addons: Record<string, unknown> = {};
  for (const name of ADDON_NAMES) {
    const ad = a.addons.find((x) => x.name === name);
    addons[name] = !ad ? { enabled: false } : Object.keys(ad.values).length > 0 ? { enabled: true, values: ad.values } : { enabled: true };
  }
  return compact({
    apiVersion: API_VERSION,
    kind: "Cluster",
    cluster,
    ssh,
    hosts,
    addons,
  });
}

function commentKey(map: unknown, key: string, lines: string[], blankBefore = false): void {
  if (!isMap(map)) return;
  const pair = (map as YAMLMap).items.find((p) => isScalar(p.key) && p.key.value === key);
  if (!pair || !isScalar(pair.key)) return;
  pair.key.commentBefore = lines.map((l) => ` ${l}`).join("\n");
  if (blankBefore) pair.key.spaceBefore = true;
}

/** Answers -> commented inventory YAML text. */
export function generateInventory(a: Answers, opts: GenerateOptions = {}): string {
  const file = opts.fileName ?? "inventory.yaml";
  const doc = new Document(inventoryObject(a));
  const root = doc.contents;
  const controlPlanes = a.hosts.filter((h) => h.roles.includes("control-plane"));
  const frontends = a.hosts.filter((h) => h.roles.includes("frontend"));

  doc.commentBefore = [
    ` kubesmith inventory for cluster '${a.name}', written by 'kubesmith init'.`,
    "",
    " Use it:",
    `   kubesmith inventory validate -i ${file}   # check this file`,
    `   kubesmith check -i ${file}                # reach every host, check OS and resources`,
    `   kubesmith up -i ${file}                   # build the cluster`,
    "",
    " Secrets (passwords, key passphrases, sudo passwords) are never written here: they are written",
    " ${ENV_VAR} and read from the environment. A literal \"${\" is written \"$${\".",
  ].join("\n");

  // cluster:
  commentKey(root, "cluster", ["The cluster: its name (kubeconfig context and state directory), version and networks."], true);
  const cluster = doc.get("cluster", true);
  commentKey(cluster, "kubernetesVersion", ["Kubernetes minor version; kubesmith installs its latest patch release."]);
  commentKey(cluster, "podCIDR", [
    "Pod and Service networks. They must not overlap each other, the hosts' addresses or the VIPs",
    "(a pod network covering the LAN is the classic Calico breakage).",
  ]);
  if (a.controlPlaneEndpoint) {
    commentKey(
      cluster,
      "controlPlaneEndpoint",
      "vip" in a.controlPlaneEndpoint
        ? [
            `The ${controlPlanes.length} control planes share one API address: a virtual IP that keepalived`,
            "moves between them. It must be a free address in their network; interface carries it.",
          ]
        : ["The API servers are reached through this external load balancer."],
    );
  }
  if (a.edgeVIP) {
    commentKey(cluster, "edgeVIP", [
      `The edge VIP: held by keepalived on the frontend node${frontends.length === 1 ? "" : "s"} (${frontends.map((h) => h.name).join(", ")}),`,
      "the address clients use to reach Traefik.",
    ]);
  }
  if (!a.controlPlaneEndpoint && controlPlanes.length === 1) {
    const c = cluster as YAMLMap | undefined;
    if (c) {
      c.comment = ` One control plane: the API server is reached at ${controlPlanes[0]!.address}. With three, add a`;
      c.comment += "\n controlPlaneEndpoint: { vip: <free address>, interface: <nic> } for keepalived.";
    }
  }

  // ssh:
  commentKey(root, "ssh", ["How kubesmith reaches the hosts over SSH; a host's own settings override these."], true);
  const ssh = doc.get("ssh", true);
  commentKey(ssh, "knownHostsFile", [
    a.hostKeyPolicy === "strict"
      ? "Every host key was shown and recorded here by init; strict refuses a host whose key is not here."
      : "accept-new: a host's key is trusted the first time and recorded here; a changed key is refused.",
  ]);
  if (a.hosts.some((h) => h.agent !== undefined)) {
    commentKey(ssh, "agent", ["true: the SSH agent at $SSH_AUTH_SOCK; or the path of an agent socket."]);
  }

  // hosts:
  commentKey(
    root,
    "hosts",
    [
      "The machines. Roles: control-plane, worker, frontend. A frontend node is a worker labelled",
      "role=frontend; the edge add-ons (traefik, keepalived-edge) land on it.",
      ...(a.hosts.some((h) => h.user !== "root")
        ? ["A user other than root becomes root with passwordless sudo unless sudo: says otherwise."]
        : []),
    ],
    true,
  );
  const hosts = doc.get("hosts", true) as { items?: Node[] } | undefined;
  a.hosts.forEach((h, i) => {
    const item = hosts?.items?.[i];
    const rolesNode = doc.getIn(["hosts", i, "roles"], true) as { flow?: boolean } | undefined;
    if (rolesNode) rolesNode.flow = true;
    const note = opts.notes?.[h.name];
    if (item && note) item.commentBefore = ` ${note.replace(/\n/g, " ")}`;
    if (h.sudoPasswordEnv) commentKey(item, "sudo", [`sudo password from the environment: export ${h.sudoPasswordEnv}=… before running`]);
  });

  // addons:
  commentKey(
    root,
    "addons",
    [
      "Add-on bundles, applied after the cluster is up. enabled: false keeps a bundle off (most are on",
      "by default). values: overrides the bundle's defaults (addons/<name>/values.yaml); only the main",
      "ones are set here.",
    ],
    true,
  );
  const addonsNode = doc.get("addons", true);
  for (const name of ADDON_NAMES) commentKey(addonsNode, name, [ADDON_CATALOG[name].description]);

  return doc.toString({ flowCollectionPadding: false, lineWidth: 0 });
}

/** Env for validation: a ${VAR} init wrote (sudo passwords) need not be set while init runs. */
function validationEnv(a: Answers, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const h of a.hosts) if (h.sudoPasswordEnv && out[h.sudoPasswordEnv] === undefined) out[h.sudoPasswordEnv] = "set-at-run-time";
  return out;
}

/** Validate generated text with the real loader; throws InventoryError listing every problem. */
export function validateGenerated(text: string, file: string, a: Answers, env: NodeJS.ProcessEnv = process.env): LoadedInventory {
  return parseInventory(text, file, validationEnv(a, env));
}

/**
 * The loader's problems with these answers whose field path starts with one of `prefixes` (e.g.
 * "cluster.podCIDR"), as one line each; [] when there are none. Used to validate an answer as it is typed.
 */
export function answerIssues(a: Answers, prefixes: string[]): InventoryIssue[] {
  try {
    validateGenerated(generateInventory(a), "inventory.yaml", a);
    return [];
  } catch (e) {
    if (!(e instanceof InventoryError)) throw e;
    return e.issues.filter((i) => prefixes.some((p) => i.path === p || i.path.startsWith(`${p}.`) || i.path.startsWith(`${p}[`)));
  }
}

/** One issue as a short line for a prompt: message and hint, no file position. */
export function issueText(i: InventoryIssue): string {
  return `${i.message}${i.hint ? ` (${i.hint})` : ""}`;
}
