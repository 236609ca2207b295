// Kubernetes RBAC, evaluated for real over the Role/ClusterRole/RoleBinding/ClusterRoleBinding objects the
// simulator stores: may this user do this verb on this resource (with subresource and name) in this
// namespace? Pure functions over plain objects, so the controllers can ask on reconcile (never per request)
// and tests can ask without a server.
//
// Semantics follow kube-apiserver's RBAC authorizer:
//   - rule matching: kubernetes/kubernetes pkg/apis/rbac/v1/evaluation_helpers.go (VerbMatches,
//     APIGroupMatches, ResourceMatches with "*" and "*/<subresource>", ResourceNameMatches: an empty
//     resourceNames list matches every name, a non-empty one only the names it lists)
//   - whose rules apply: plugin/pkg/auth/authorizer/rbac/rbac.go and pkg/registry/rbac/validation/rule.go
//     (VisitRulesFor: every ClusterRoleBinding, then the RoleBindings of the request's namespace; a
//     RoleBinding may point at a Role of its own namespace or at a ClusterRole, whose rules then hold in
//     that namespace only; appliesToUser: User by name, Group by membership, ServiceAccount by
//     "system:serviceaccount:<ns>:<name>" with the binding's namespace as default)
//   - aggregated ClusterRoles: the clusterrole-aggregation controller replaces the rules of a ClusterRole
//     that has an aggregationRule with the rules of every ClusterRole its selectors match
//     (pkg/controller/clusterroleaggregation); computed here when asked
//   - the group system:masters is allowed everything before RBAC is asked (kube-apiserver's privileged
//     group authorizer, pkg/kubeapiserver/authorizer/config.go)
//   - the message of a refusal is the API server's (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/
//     responsewriters/errors.go, forbiddenMessage)

import { matchesLabelSelector } from "./selectors.js";
import { arrOf, isObj, objOf, strOf, type KObject } from "./types.js";

export interface UserInfo {
  name: string;
  groups: readonly string[];
}

/** The attributes of a resource request, as the authorizer sees them. */
export interface ResourceRequest {
  verb: string;
  /** "" for the core group. */
  apiGroup: string;
  resource: string;
  subresource?: string;
  /** The object's name; empty for list/watch/create-without-name. */
  name?: string;
  /** Empty or absent for cluster-scoped requests. */
  namespace?: string;
}

export interface RbacObjects {
  clusterRoles: readonly KObject[];
  clusterRoleBindings: readonly KObject[];
  roles: readonly KObject[];
  roleBindings: readonly KObject[];
}

export interface Decision {
  allowed: boolean;
  /** Why: the binding and role that allowed it, or the API server's refusal message. */
  reason: string;
}

interface PolicyRule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames: string[];
  nonResourceURLs: string[];
}

const strings = (v: unknown): string[] => arrOf(v).filter((x): x is string => typeof x === "string");

function ruleOf(v: unknown): PolicyRule {
  const r = objOf(v);
  return {
    verbs: strings(r["verbs"]),
    apiGroups: strings(r["apiGroups"]),
    resources: strings(r["resources"]),
    resourceNames: strings(r["resourceNames"]),
    nonResourceURLs: strings(r["nonResourceURLs"]),
  };
}

/** The user a pod running as this ServiceAccount authenticates as (k8s.io/apiserver serviceaccount.UserInfo). */
export function serviceAccountUser(namespace: string, name: string): UserInfo {
  return {
    name: `system:serviceaccount:${namespace}:${name}`,
    groups: ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"],
  };
}

/** Does one PolicyRule allow the request? (evaluation_helpers.go semantics) */
export function ruleAllows(rule: unknown, req: ResourceRequest): boolean {
  const r = ruleOf(rule);
  const verbOk = r.verbs.some((v) => v === "*" || v === req.verb);
  const groupOk = r.apiGroups.some((g) => g === "*" || g === req.apiGroup);
  const sub = req.subresource ?? "";
  const combined = sub ? `${req.resource}/${sub}` : req.resource;
  // "pods" does not cover "pods/log"; "*" covers everything; "*/log" covers the log of any resource
  const resourceOk = r.resources.some((x) => x === "*" || x === combined || (sub !== "" && x === `*/${sub}`));
  const nameOk = r.resourceNames.length === 0 || r.resourceNames.includes(req.name ?? "");
  return verbOk && groupOk && resourceOk && nameOk;
}

function subjectApplies(user: UserInfo, subject: unknown, bindingNamespace: string): boolean {
  const s = objOf(subject);
  const name = strOf(s["name"]) ?? "";
  switch (s["kind"]) {
    case "User":
      return user.name === name;
    case "Group":
      return user.groups.includes(name);
    case "ServiceAccount": {
      const ns = strOf(s["namespace"]) || bindingNamespace;
      return ns !== "" && user.name === `system:serviceaccount:${ns}:${name}`;
    }
    default:
      return false;
  }
}

function describeSubject(subject: unknown, bindingNamespace: string): string {
  const s = objOf(subject);
  if (s["kind"] === "ServiceAccount") return `ServiceAccount "${strOf(s["name"]) ?? ""}/${strOf(s["namespace"]) || bindingNamespace}"`;
  return `${strOf(s["kind"]) ?? "?"} "${strOf(s["name"]) ?? ""}"`;
}

/** The rules a ClusterRole grants, aggregation included. */
export function clusterRoleRules(rbac: RbacObjects, role: KObject): unknown[] {
  const agg = objOf(role["aggregationRule"]);
  const selectors = arrOf(agg["clusterRoleSelectors"]).filter(isObj);
  if (!isObj(role["aggregationRule"])) return arrOf(role["rules"]);
  return rbac.clusterRoles
    .filter((r) => r !== role && selectors.some((sel) => matchesLabelSelector(r.metadata.labels, sel)))
    .flatMap((r) => arrOf(r["rules"]));
}

function roleRefRules(rbac: RbacObjects, roleRef: unknown, bindingNamespace: string): { kind: string; name: string; rules: unknown[] } | undefined {
  const ref = objOf(roleRef);
  const name = strOf(ref["name"]) ?? "";
  if (ref["kind"] === "ClusterRole") {
    const role = rbac.clusterRoles.find((r) => r.metadata.name === name);
    return role ? { kind: "ClusterRole", name, rules: clusterRoleRules(rbac, role) } : undefined;
  }
  if (ref["kind"] === "Role" && bindingNamespace) {
    const role = rbac.roles.find((r) => r.metadata.name === name && r.metadata.namespace === bindingNamespace);
    return role ? { kind: "Role", name, rules: arrOf(role["rules"]) } : undefined;
  }
  return undefined;
}

/** The API server's text for a refused request (forbiddenMessage), prefixed the way the Status carries it. */
export function forbiddenMessage(user: UserInfo, req: ResourceRequest): string {
  const resource = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  const qualified = req.apiGroup ? `${req.resource}.${req.apiGroup}` : req.resource;
  const who = `User "${user.name}" cannot ${req.verb} resource "${resource}" in API group "${req.apiGroup}"`;
  const where = req.namespace ? ` in the namespace "${req.namespace}"` : " at the cluster scope";
  const what = req.name ? `${qualified} "${req.name}" is forbidden` : `${qualified} is forbidden`;
  return `${what}: ${who}${where}`;
}

/** May `user` make the request? Evaluates every binding in `rbac`. */
export function authorize(rbac: RbacObjects, user: UserInfo, req: ResourceRequest): Decision {
  if (user.groups.includes("system:masters")) return { allowed: true, reason: 'allowed: member of "system:masters"' };
  for (const b of rbac.clusterRoleBindings) {
    const subject = arrOf(b["subjects"]).find((s) => subjectApplies(user, s, ""));
    if (subject === undefined) continue;
    const role = roleRefRules(rbac, b["roleRef"], "");
    if (role?.rules.some((r) => ruleAllows(r, req))) {
      return { allowed: true, reason: `RBAC: allowed by ClusterRoleBinding "${b.metadata.name}" of ${role.kind} "${role.name}" to ${describeSubject(subject, "")}` };
    }
  }
  const ns = req.namespace ?? "";
  if (ns) {
    for (const b of rbac.roleBindings) {
      if (b.metadata.namespace !== ns) continue;
      const subject = arrOf(b["subjects"]).find((s) => subjectApplies(user, s, ns));
      if (subject === undefined) continue;
      const role = roleRefRules(rbac, b["roleRef"], ns);
      if (role?.rules.some((r) => ruleAllows(r, req))) {
        return { allowed: true, reason: `RBAC: allowed by RoleBinding "${b.metadata.name}/${ns}" of ${role.kind} "${role.name}" to ${describeSubject(subject, ns)}` };
      }
    }
  }
  return { allowed: false, reason: forbiddenMessage(user, req) };
}

/**
 * May `user` make a request to a non-resource path (/metrics, /healthz, /api …)? Only ClusterRoleBindings
 * grant them (a Role cannot hold nonResourceURLs); a rule's URL matches exactly, or as a prefix when it
 * ends in "*" (evaluation_helpers.go NonResourceURLMatches). The refusal is the API server's text
 * (endpoints/handlers/responsewriters/errors.go: `forbidden: User "x" cannot get path "/metrics"`).
 */
export function authorizeNonResource(rbac: RbacObjects, user: UserInfo, verb: string, path: string): Decision {
  if (user.groups.includes("system:masters")) return { allowed: true, reason: 'allowed: member of "system:masters"' };
  const urlOk = (u: string): boolean => u === "*" || u === path || (u.endsWith("*") && path.startsWith(u.slice(0, -1)));
  for (const b of rbac.clusterRoleBindings) {
    const subject = arrOf(b["subjects"]).find((s) => subjectApplies(user, s, ""));
    if (subject === undefined) continue;
    const role = roleRefRules(rbac, b["roleRef"], "");
    const hit = role?.rules.some((r) => {
      const rule = ruleOf(r);
      return rule.verbs.some((v) => v === "*" || v === verb) && rule.nonResourceURLs.some(urlOk);
    });
    if (hit) return { allowed: true, reason: `RBAC: allowed by ClusterRoleBinding "${b.metadata.name}" of ClusterRole "${role!.name}" to ${describeSubject(subject, "")}` };
  }
  return { allowed: false, reason: `forbidden: User "${user.name}" cannot ${verb} path "${path}"` };
}

/** Sort a bag of objects (a manifest, a list) into the four RBAC kinds. */
export function rbacFromObjects(objects: readonly KObject[]): RbacObjects {
  const of = (kind: string): KObject[] =>
    objects.filter((o) => o.kind === kind && (o.apiVersion ?? "").startsWith("rbac.authorization.k8s.io/"));
  return { clusterRoles: of("ClusterRole"), clusterRoleBindings: of("ClusterRoleBinding"), roles: of("Role"), roleBindings: of("RoleBinding") };
}
