// Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` asks for, with the columns the real
// API server prints for the common kinds (NAME/AGE otherwise, or a CRD's additionalPrinterColumns).

import type { ResourceDef } from "./resources.js";
import { arrOf, getIn, isObj, objOf, strOf, type KObject } from "./types.js";

interface Column {
  name: string;
  type: string;
  format?: string;
  priority?: number;
  description?: string;
  cell: (o: KObject) => unknown;
}

/** kubectl's human duration: 45s, 5m12s, 3h20m, 2d4h, 90d. */
export function humanAge(since: string | undefined, now = Date.now()): string {
  if (!since) return "<unknown>";
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const d = Math.floor(h / 24);
  if (s < 120) return `${s}s`;
  if (m < 10) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  if (m < 180) return `${m}m`;
  if (h < 8) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  if (h < 48) return `${h}h`;
  if (h < 192) return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
  if (d < 730) return `${d}d`;
  return `${Math.floor(d / 365)}y${d % 365 ? `${d % 365}d` : ""}`;
}

const name: Column = { name: "Name", type: "string", format: "name", cell: (o) => o.metadata.name ?? "" };
const age: Column = { name: "Age", type: "string", cell: (o) => humanAge(o.metadata.creationTimestamp) };
const num = (p: string[]) => (o: KObject) => Number(getIn(o, p) ?? 0);

function nodeStatus(o: KObject): string {
  const ready = arrOf(getIn(o, ["status", "conditions"])).find((c) => objOf(c)["type"] === "Ready");
  const s = ready === undefined ? "Unknown" : objOf(ready)["status"] === "True" ? "Ready" : "NotReady";
  return getIn(o, ["spec", "unschedulable"]) === true ? `${s},SchedulingDisabled` : s;
}

function nodeRoles(o: KObject): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(o.metadata.labels ?? {})) {
    if (k.startsWith("node-role.kubernetes.io/") && k.length > "node-role.kubernetes.io/".length) roles.add(k.slice("node-role.kubernetes.io/".length));
    if (k === "kubernetes.io/role" && v) roles.add(v);
  }
  return roles.size ? [...roles].sort().join(",") : "<none>";
}

function address(o: KObject, type: string): string {
  const a = arrOf(getIn(o, ["status", "addresses"])).find((x) => objOf(x)["type"] === type);
  return strOf(objOf(a)["address"]) ?? "<none>";
}

function servicePorts(o: KObject): string {
  const ports = arrOf(getIn(o, ["spec", "ports"])).map(objOf);
  if (!ports.length) return "<none>";
  return ports.map((p) => `${String(p["port"])}${p["nodePort"] ? `:${String(p["nodePort"])}` : ""}/${String(p["protocol"] ?? "TCP")}`).join(",");
}

/** The pod's STATUS as kube-apiserver prints it: a waiting container's reason wins over the phase (printers.go printPod). */
function podStatusCell(o: KObject): string {
  let reason = strOf(getIn(o, ["status", "reason"])) ?? strOf(getIn(o, ["status", "phase"])) ?? "Pending";
  for (const c of arrOf(getIn(o, ["status", "containerStatuses"]))) {
    const waiting = strOf(getIn(c, ["state", "waiting", "reason"]));
    if (waiting) reason = waiting;
  }
  return reason;
}

function countData(o: KObject): number {
  return Object.keys(objOf(o["data"])).length + Object.keys(objOf(o["binaryData"])).length + Object.keys(objOf(o["stringData"])).length;
}

const COLUMNS: Record<string, Column[]> = {
  "/Node": [
    name,
    { name: "Status", type: "string", cell: nodeStatus },
    { name: "Roles", type: "string", cell: nodeRoles },
    age,
    { name: "Version", type: "string", cell: (o) => getIn(o, ["status", "nodeInfo", "kubeletVersion"]) ?? "" },
    { name: "Internal-IP", type: "string", priority: 1, cell: (o) => address(o, "InternalIP") },
    { name: "External-IP", type: "string", priority: 1, cell: (o) => address(o, "ExternalIP") },
    { name: "OS-Image", type: "string", priority: 1, cell: (o) => getIn(o, ["status", "nodeInfo", "osImage"]) ?? "" },
    { name: "Kernel-Version", type: "string", priority: 1, cell: (o) => getIn(o, ["status", "nodeInfo", "kernelVersion"]) ?? "" },
    { name: "Container-Runtime", type: "string", priority: 1, cell: (o) => getIn(o, ["status", "nodeInfo", "containerRuntimeVersion"]) ?? "" },
  ],
  "/Namespace": [name, { name: "Status", type: "string", cell: (o) => getIn(o, ["status", "phase"]) ?? "" }, age],
  "/ConfigMap": [name, { name: "Data", type: "integer", cell: countData }, age],
  "/Secret": [name, { name: "Type", type: "string", cell: (o) => o["type"] ?? "Opaque" }, { name: "Data", type: "integer", cell: countData }, age],
  "/Service": [
    name,
    { name: "Type", type: "string", cell: (o) => getIn(o, ["spec", "type"]) ?? "ClusterIP" },
    { name: "Cluster-IP", type: "string", cell: (o) => getIn(o, ["spec", "clusterIP"]) ?? "<none>" },
    { name: "External-IP", type: "string", cell: () => "<none>" },
    { name: "Port(s)", type: "string", cell: servicePorts },
    age,
  ],
  "/Pod": [
    name,
    { name: "Ready", type: "string", cell: (o) => `${arrOf(getIn(o, ["status", "containerStatuses"])).filter((c) => objOf(c)["ready"] === true).length}/${arrOf(getIn(o, ["spec", "containers"])).length}` },
    { name: "Status", type: "string", cell: podStatusCell },
    { name: "Restarts", type: "string", cell: () => "0" },
    age,
    { name: "IP", type: "string", priority: 1, cell: (o) => getIn(o, ["status", "podIP"]) ?? "<none>" },
    { name: "Node", type: "string", priority: 1, cell: (o) => getIn(o, ["spec", "nodeName"]) ?? "<none>" },
  ],
  "apps/Deployment": [
    name,
    { name: "Ready", type: "string", cell: (o) => `${num(["status", "readyReplicas"])(o)}/${num(["spec", "replicas"])(o)}` },
    { name: "Up-to-date", type: "integer", cell: num(["status", "updatedReplicas"]) },
    { name: "Available", type: "integer", cell: num(["status", "availableReplicas"]) },
    age,
  ],
  "apps/StatefulSet": [name, { name: "Ready", type: "string", cell: (o) => `${num(["status", "readyReplicas"])(o)}/${num(["spec", "replicas"])(o)}` }, age],
  "apps/DaemonSet": [
    name,
    { name: "Desired", type: "integer", cell: num(["status", "desiredNumberScheduled"]) },
    { name: "Current", type: "integer", cell: num(["status", "currentNumberScheduled"]) },
    { name: "Ready", type: "integer", cell: num(["status", "numberReady"]) },
    { name: "Up-to-date", type: "integer", cell: num(["status", "updatedNumberScheduled"]) },
    { name: "Available", type: "integer", cell: num(["status", "numberAvailable"]) },
    {
      name: "Node Selector",
      type: "string",
      cell: (o) => Object.entries(objOf(getIn(o, ["spec", "template", "spec", "nodeSelector"]))).map(([k, v]) => `${k}=${String(v)}`).join(",") || "<none>",
    },
    age,
  ],
  "batch/Job": [
    name,
    { name: "Status", type: "string", cell: (o) => (arrOf(getIn(o, ["status", "conditions"])).some((c) => objOf(c)["type"] === "Complete") ? "Complete" : arrOf(getIn(o, ["status", "conditions"])).some((c) => objOf(c)["type"] === "Failed") ? "Failed" : "Running") },
    { name: "Completions", type: "string", cell: (o) => `${num(["status", "succeeded"])(o)}/${Number(getIn(o, ["spec", "completions"]) ?? 1)}` },
    age,
  ],
  "apiextensions.k8s.io/CustomResourceDefinition": [name, { name: "Created At", type: "date", cell: (o) => o.metadata.creationTimestamp ?? "" }],
};

/** A CRD's additionalPrinterColumns with simple `.a.b.c` JSONPaths. */
export function crdColumns(crd: KObject | undefined, version: string): Column[] | undefined {
  if (!crd) return undefined;
  const v = arrOf(getIn(crd, ["spec", "versions"])).find((x) => objOf(x)["name"] === version);
  const cols = arrOf(objOf(v)["additionalPrinterColumns"]).filter(isObj);
  if (!cols.length) return undefined;
  const out: Column[] = [name];
  for (const c of cols) {
    const jsonPath = String(c["jsonPath"] ?? "");
    const pathParts = jsonPath.replace(/^\./, "").split(".").filter(Boolean);
    const isAge = jsonPath === ".metadata.creationTimestamp";
    out.push({
      name: String(c["name"] ?? ""),
      type: String(c["type"] ?? "string"),
      priority: Number(c["priority"] ?? 0),
      cell: (o) => (isAge ? humanAge(o.metadata.creationTimestamp) : (getIn(o, pathParts) ?? "")),
    });
  }
  if (!cols.some((c) => c["jsonPath"] === ".metadata.creationTimestamp")) out.push(age);
  return out;
}

export type IncludeObject = "None" | "Metadata" | "Object";

function rowObject(o: KObject, include: IncludeObject): unknown {
  if (include === "None") return undefined;
  if (include === "Object") return o;
  return { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata };
}

export function toTable(def: ResourceDef, objs: KObject[], opts: { include: IncludeObject; resourceVersion: string; crd?: KObject }): Record<string, unknown> {
  const cols = crdColumns(opts.crd, def.version) ?? COLUMNS[`${def.group}/${def.kind}`] ?? [name, age];
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion: opts.resourceVersion },
    columnDefinitions: cols.map((c) => ({ name: c.name, type: c.type, format: c.format ?? "", description: c.description ?? c.name, priority: c.priority ?? 0 })),
    rows: objs.map((o) => {
      const obj = rowObject(o, opts.include);
      return { cells: cols.map((c) => c.cell(o)), ...(obj ? { object: obj } : {}) };
    }),
  };
}
