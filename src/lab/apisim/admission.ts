// What the real API server checks and fills in on every write, as far as the simulator needs it:
// object names, label syntax, a few defaults controllers rely on, and Service IPs/NodePorts.

import type { ResourceDef } from "./resources.js";
import { pinProblem } from "./known-images.js";
import { invalid } from "./status.js";
import { arrOf, isObj, objOf, type KObject } from "./types.js";

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Resources whose names must be DNS-1123 labels rather than subdomains. */
const LABEL_NAMED = new Set(["/namespaces", "/services"]);

export function validateName(def: ResourceDef, name: string): void {
  const isLabel = LABEL_NAMED.has(`${def.group}/${def.resource}`);
  if (isLabel) {
    if (name.length > 63 || !LABEL.test(name)) {
      throw invalid(def, name, [
        {
          field: "metadata.name",
          message: `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
        },
      ]);
    }
    return;
  }
  if (def.resource === "customresourcedefinitions" || def.custom || def.group === "rbac.authorization.k8s.io") {
    // RBAC names are path segments (e.g. "system:controller:..."), CRs follow their CRD: only forbid what cannot be a path segment.
    if (name === "." || name === ".." || /[/%]/.test(name) || name.length > 253) {
      throw invalid(def, name, [{ field: "metadata.name", message: `Invalid value: "${name}": may not contain '/' or '%' and may not be '.' or '..'` }]);
    }
    return;
  }
  if (name.length > 253 || !SUBDOMAIN.test(name)) {
    throw invalid(def, name, [
      {
        field: "metadata.name",
        message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      },
    ]);
  }
}

function validKey(key: string): boolean {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : "";
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (slash >= 0 && (prefix.length > 253 || !SUBDOMAIN.test(prefix))) return false;
  return name.length > 0 && name.length <= 63 && QUALIFIED_NAME.test(name);
}

export function validateMetadata(def: ResourceDef, obj: KObject): void {
  const name = obj.metadata.name ?? "";
  const causes: { field: string; message: string }[] = [];
  for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) {
    if (!validKey(k)) causes.push({ field: "metadata.labels", message: `Invalid value: "${k}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character` });
    if (typeof v !== "string" || v.length > 63 || !LABEL_VALUE.test(v)) {
      causes.push({ field: "metadata.labels", message: `Invalid value: "${String(v)}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character` });
    }
  }
  for (const [k, v] of Object.entries(obj.metadata.annotations ?? {})) {
    if (!validKey(k)) causes.push({ field: "metadata.annotations", message: `Invalid value: "${k}": name part must consist of alphanumeric characters, '-', '_' or '.'` });
    if (typeof v !== "string") causes.push({ field: `metadata.annotations.${k}`, message: `Invalid value: ${JSON.stringify(v)}: must be a string` });
  }
  if (causes.length) throw invalid(def, name, causes);
}

/** Defaults the simulated controllers read (spec.replicas), as the real API server's defaulting does. */
export function applyDefaults(def: ResourceDef, obj: KObject): void {
  if (def.group === "apps" && ["deployments", "statefulsets", "replicasets"].includes(def.resource)) {
    const spec = objOf(obj["spec"]);
    if (typeof spec["replicas"] !== "number") obj["spec"] = { ...spec, replicas: 1 };
  }
  if (def.group === "" && def.resource === "namespaces") {
    obj["spec"] = { finalizers: ["kubernetes"], ...objOf(obj["spec"]) };
    obj["status"] = { phase: "Active" };
  }
  if (def.group === "" && def.resource === "namespaces" && obj.metadata.name) {
    obj.metadata.labels = { ...(obj.metadata.labels ?? {}), "kubernetes.io/metadata.name": obj.metadata.name };
  }
}

export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;

/**
 * Services: keep or allocate spec.clusterIP (10.96.0.0/12) and, for NodePort/LoadBalancer, nodePorts,
 * refusing a nodePort outside the range or already held by another Service with the real API's error.
 */
export function admitService(def: ResourceDef, obj: KObject, prev: KObject | undefined, others: readonly KObject[]): void {
  const spec = { ...objOf(obj["spec"]) };
  const prevSpec = objOf(prev?.["spec"]);
  const name = obj.metadata.name ?? "";
  const type = typeof spec["type"] === "string" ? spec["type"] : "ClusterIP";
  spec["type"] = type;
  if (type !== "ExternalName") {
    if (spec["clusterIP"] === undefined && typeof prevSpec["clusterIP"] === "string") spec["clusterIP"] = prevSpec["clusterIP"];
    if (spec["clusterIP"] === undefined) {
      const used = new Set(others.map((o) => objOf(o["spec"])["clusterIP"]));
      for (let i = 10; i < 65535; i++) {
        const ip = `10.96.${i >> 8}.${i & 255}`;
        if (!used.has(ip)) {
          spec["clusterIP"] = ip;
          break;
        }
      }
    }
    if (spec["clusterIP"] !== "None" && spec["clusterIPs"] === undefined) spec["clusterIPs"] = [spec["clusterIP"]];
  }
  const ports = arrOf(spec["ports"]).map((p) => ({ ...objOf(p) }));
  const prevPorts = arrOf(prevSpec["ports"]).map(objOf);
  const wantsNodePorts = type === "NodePort" || type === "LoadBalancer";
  const taken = new Map<number, string>();
  for (const o of others) {
    for (const p of arrOf(objOf(o["spec"])["ports"])) {
      const np = objOf(p)["nodePort"];
      if (typeof np === "number") taken.set(np, `${o.metadata.namespace}/${o.metadata.name}`);
    }
  }
  const causes: { field: string; message: string }[] = [];
  ports.forEach((p, i) => {
    if (p["protocol"] === undefined) p["protocol"] = "TCP";
    if (p["targetPort"] === undefined && p["port"] !== undefined) p["targetPort"] = p["port"];
    if (!wantsNodePorts) {
      delete p["nodePort"];
      return;
    }
    if (p["nodePort"] === undefined) {
      const old = prevPorts.find((q) => q["port"] === p["port"] && (q["protocol"] ?? "TCP") === p["protocol"]);
      if (typeof old?.["nodePort"] === "number") p["nodePort"] = old["nodePort"];
    }
    const np = p["nodePort"];
    if (np === undefined) {
      for (let n = NODE_PORT_RANGE.min; n <= NODE_PORT_RANGE.max; n++) {
        if (!taken.has(n) && !ports.some((q) => q["nodePort"] === n)) {
          p["nodePort"] = n;
          taken.set(n, name);
          break;
        }
      }
    } else if (typeof np !== "number" || np < NODE_PORT_RANGE.min || np > NODE_PORT_RANGE.max) {
      causes.push({
        field: `spec.ports[${i}].nodePort`,
        message: `Invalid value: ${String(np)}: provided port is not in the valid range. The range of valid ports is ${NODE_PORT_RANGE.min}-${NODE_PORT_RANGE.max}`,
      });
    } else if (taken.has(np)) {
      causes.push({ field: `spec.ports[${i}].nodePort`, message: `Invalid value: ${np}: provided port is already allocated` });
    } else taken.set(np, name);
  });
  if (causes.length) throw invalid(def, name, causes);
  if (ports.length) spec["ports"] = ports;
  obj["spec"] = spec;
  if (!isObj(obj["status"])) obj["status"] = { loadBalancer: {} };
}

/** Where each kind keeps its pod spec. */
const POD_SPEC_PATHS: Record<string, string[]> = {
  "/pods": ["spec"],
  "apps/deployments": ["spec", "template", "spec"],
  "apps/daemonsets": ["spec", "template", "spec"],
  "apps/statefulsets": ["spec", "template", "spec"],
  "apps/replicasets": ["spec", "template", "spec"],
  "/replicationcontrollers": ["spec", "template", "spec"],
  "batch/jobs": ["spec", "template", "spec"],
  "batch/cronjobs": ["spec", "jobTemplate", "spec", "template", "spec"],
};

/**
 * The lab's pin policy (docs/lab-strictness.md "pins required"; NOT what a real API server does, which
 * stores any image): every container image of a pod or pod template must name a tag other than `latest`, or
 * a digest (known-images.ts pinProblem, after the Kubernetes docs' advice against :latest). Refused like a
 * validating admission policy, with a 422 naming the field.
 */
export function admitPodImages(def: ResourceDef, obj: KObject): void {
  const path = POD_SPEC_PATHS[`${def.group}/${def.resource}`];
  if (!path) return;
  let spec: unknown = obj;
  for (const k of path) spec = objOf(spec)[k];
  const causes: { field: string; message: string }[] = [];
  for (const field of ["initContainers", "containers", "ephemeralContainers"]) {
    arrOf(objOf(spec)[field]).forEach((c, i) => {
      const image = objOf(c)["image"];
      const why = typeof image === "string" ? pinProblem(image) : undefined;
      if (why) causes.push({ field: `${path.join(".")}.${field}[${i}].image`, message: `Forbidden: ${why} (lab policy "pins required", docs/lab-strictness.md)` });
    });
  }
  if (causes.length) throw invalid(def, obj.metadata.name ?? "", causes.map((c) => ({ ...c, reason: "FieldValueForbidden" })));
}
