// Authorization of API requests, as kube-apiserver with `--authorization-mode=Node,RBAC` (kubeadm's
// default) does it: who is asking (the client certificate's CN and O, or whom it impersonates), what the
// request is (verb, group, resource, subresource, name, namespace; or a non-resource path), and the RBAC
// objects in the store. Also the objects every cluster starts with: the API server's bootstrap
// ClusterRoles/Bindings and kubeadm's kubeadm:cluster-admins binding.

import { StatusError, forbidden } from "./status.js";
import { authorize, authorizeNonResource, forbiddenMessage, type Decision, type RbacObjects, type ResourceRequest, type UserInfo } from "./rbac.js";
import type { KObject } from "./types.js";

const RBAC = "rbac.authorization.k8s.io/v1";
const BOOTSTRAP_META = {
  labels: { "kubernetes.io/bootstrapping": "rbac-defaults" },
  annotations: { "rbac.authorization.kubernetes.io/autoupdate": "true" },
};

function clusterRole(name: string, rules: unknown[]): KObject {
  return { apiVersion: RBAC, kind: "ClusterRole", metadata: { name, ...structuredClone(BOOTSTRAP_META) }, rules };
}
function groupBinding(name: string, role: string, groups: string[], bootstrap = true): KObject {
  return {
    apiVersion: RBAC,
    kind: "ClusterRoleBinding",
    metadata: { name, ...(bootstrap ? structuredClone(BOOTSTRAP_META) : {}) },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
    subjects: groups.map((g) => ({ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: g })),
  };
}

/**
 * The RBAC objects a kubeadm cluster has before anyone applies anything:
 *   - kube-apiserver's bootstrap policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go
 *     ClusterRoles/ClusterRoleBindings; reconciled at every start by the rbac/bootstrap-roles post-start
 *     hook): cluster-admin bound to the group system:masters; system:discovery and system:basic-user bound to
 *     system:authenticated; system:public-info-viewer bound to system:authenticated and
 *     system:unauthenticated;
 *   - kubeadm init's ClusterRoleBinding kubeadm:cluster-admins (cluster-admin to the group
 *     kubeadm:cluster-admins, which admin.conf's certificate is in since kubeadm 1.29: cmd/kubeadm/app/phases/
 *     kubeconfig/kubeconfig.go EnsureAdminClusterRoleBinding, constants.ClusterAdminsGroupAndClusterRoleBinding;
 *     kubernetes/kubernetes PR #121305). The lab's simulated kubeadm writes such an admin.conf but has no
 *     API client, so the simulator holds the binding from the start.
 */
export function bootstrapRbacObjects(): KObject[] {
  const discoveryUrls = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"];
  const publicUrls = ["/healthz", "/livez", "/readyz", "/version", "/version/"];
  return [
    clusterRole("cluster-admin", [
      { apiGroups: ["*"], resources: ["*"], verbs: ["*"] },
      { nonResourceURLs: ["*"], verbs: ["*"] },
    ]),
    clusterRole("system:discovery", [{ nonResourceURLs: discoveryUrls, verbs: ["get"] }]),
    clusterRole("system:public-info-viewer", [{ nonResourceURLs: publicUrls, verbs: ["get"] }]),
    clusterRole("system:basic-user", [
      { apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], verbs: ["create"] },
      { apiGroups: ["authentication.k8s.io"], resources: ["selfsubjectreviews"], verbs: ["create"] },
    ]),
    groupBinding("cluster-admin", "cluster-admin", ["system:masters"]),
    groupBinding("system:discovery", "system:discovery", ["system:authenticated"]),
    groupBinding("system:public-info-viewer", "system:public-info-viewer", ["system:authenticated", "system:unauthenticated"]),
    groupBinding("system:basic-user", "system:basic-user", ["system:authenticated"]),
    groupBinding("kubeadm:cluster-admins", "cluster-admin", ["kubeadm:cluster-admins"], false),
  ];
}

export const ANONYMOUS: UserInfo = { name: "system:anonymous", groups: ["system:unauthenticated"] };

/** The user of a verified client certificate: CN, O as groups, plus system:authenticated (x509 authenticator). */
export function certificateUser(cn: string, orgs: readonly string[]): UserInfo {
  return { name: cn, groups: [...orgs, "system:authenticated"] };
}

/**
 * The Node authorizer (plugin/pkg/auth/authorizer/node/node_authorizer.go with the rules of
 * bootstrappolicy NodeRules), as far as the lab needs it: a kubelet (user system:node:<name>, group
 * system:nodes) may register and update its own Node and its status, read Nodes, Pods, Services and
 * Endpoints, and manage its Lease. Everything else falls through to RBAC, as upstream.
 */
function nodeAuthorizer(user: UserInfo, req: ResourceRequest): Decision | undefined {
  if (!user.groups.includes("system:nodes") || !user.name.startsWith("system:node:")) return undefined;
  const self = user.name.slice("system:node:".length);
  const g = req.apiGroup;
  const r = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  const read = ["get", "list", "watch"].includes(req.verb);
  let ok = false;
  if (g === "" && r === "nodes") ok = read || (["create", "update", "patch", "delete"].includes(req.verb) && (req.name === self || req.verb === "create"));
  else if (g === "" && r === "nodes/status") ok = ["get", "update", "patch"].includes(req.verb) && req.name === self;
  else if (g === "" && ["pods", "services", "endpoints"].includes(r)) ok = read;
  else if (g === "coordination.k8s.io" && r === "leases") ok = req.namespace === "kube-node-lease" && ["get", "create", "update", "patch", "delete"].includes(req.verb);
  return ok ? { allowed: true, reason: `allowed by the Node authorizer (${user.name})` } : undefined;
}

/** May `user` make this resource request? Node authorizer, then RBAC (system:masters first, as upstream). */
export function authorizeResource(rbac: RbacObjects, user: UserInfo, req: ResourceRequest): Decision {
  return nodeAuthorizer(user, req) ?? authorize(rbac, user, req);
}

/** The real 403 Status for a refused resource request (details: name, group, kind = the resource). */
export function forbiddenError(user: UserInfo, req: ResourceRequest): StatusError {
  return new StatusError(403, "Forbidden", forbiddenMessage(user, req), {
    ...(req.name ? { name: req.name } : {}),
    ...(req.apiGroup ? { group: req.apiGroup } : {}),
    kind: req.resource,
  });
}

/** Non-resource paths: RBAC's nonResourceURLs (cluster-admin's "*", system:discovery, system:public-info-viewer). */
export function authorizePath(rbac: RbacObjects, user: UserInfo, verb: string, path: string): StatusError | undefined {
  const d = authorizeNonResource(rbac, user, verb, path);
  return d.allowed ? undefined : forbidden(d.reason);
}

/**
 * Impersonation (Impersonate-User, Impersonate-Group; kubectl --as/--as-group), as k8s.io/apiserver's
 * endpoints/filters/impersonation.go: the requester needs `impersonate` on users (by name), groups (by name)
 * or, for a ServiceAccount user, serviceaccounts (name, namespace); the impersonated user gets the groups
 * asked for plus system:authenticated (a ServiceAccount without groups asked gets its own groups). Groups
 * without a user is an error. Returns the user the request is then made as.
 */
export function impersonate(rbac: RbacObjects, requester: UserInfo, headers: Record<string, string | string[] | undefined>): UserInfo {
  const list = (h: string | string[] | undefined): string[] => (h === undefined ? [] : Array.isArray(h) ? h : [h]);
  const userName = list(headers["impersonate-user"])[0];
  const groups = list(headers["impersonate-group"]).flatMap((g) => g.split(",").map((x) => x.trim()).filter(Boolean));
  if (userName === undefined) {
    if (groups.length) {
      throw new StatusError(500, "InternalError", `Internal error occurred: requested [${groups.map((g) => `{Group  ${g}  }`).join(" ")}] without impersonating a user`);
    }
    return requester;
  }
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(userName);
  const checks: ResourceRequest[] = [
    sa
      ? { verb: "impersonate", apiGroup: "", resource: "serviceaccounts", name: sa[2]!, namespace: sa[1]! }
      : { verb: "impersonate", apiGroup: "", resource: "users", name: userName },
    ...groups.map((g) => ({ verb: "impersonate", apiGroup: "", resource: "groups", name: g })),
  ];
  for (const c of checks) {
    const d = authorize(rbac, requester, c);
    if (!d.allowed) throw forbiddenError(requester, c);
  }
  const out = new Set(groups);
  if (sa && groups.length === 0) for (const g of ["system:serviceaccounts", `system:serviceaccounts:${sa[1]}`]) out.add(g);
  if (userName !== "system:anonymous") out.add("system:authenticated");
  return { name: userName, groups: [...out] };
}

/** The verb of a resource request (k8s.io/apiserver endpoints/request/requestinfo.go). */
export function verbOf(method: string, hasName: boolean, watch: boolean): string {
  switch (method) {
    case "GET":
    case "HEAD":
      return watch ? "watch" : hasName ? "get" : "list";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return hasName ? "delete" : "deletecollection";
    default:
      return method.toLowerCase();
  }
}
