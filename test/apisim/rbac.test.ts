// The RBAC evaluator alone: rule matching, bindings, aggregation, refusal messages.
import { describe, expect, it } from "vitest";
import { authorize, forbiddenMessage, ruleAllows, serviceAccountUser, type KObject, type RbacObjects } from "../../src/lab/apisim/index.js";

const RBAC = "rbac.authorization.k8s.io/v1";
const sa = serviceAccountUser("kube-system", "calico-node");
const token = { verb: "create", apiGroup: "", resource: "serviceaccounts", subresource: "token", name: "calico-cni-plugin", namespace: "kube-system" };

function objs(o: Partial<RbacObjects>): RbacObjects {
  return { clusterRoles: [], clusterRoleBindings: [], roles: [], roleBindings: [], ...o };
}
const clusterRole = (name: string, rules: unknown[], extra: Record<string, unknown> = {}): KObject => ({ apiVersion: RBAC, kind: "ClusterRole", metadata: { name }, rules, ...extra });
const role = (ns: string, name: string, rules: unknown[]): KObject => ({ apiVersion: RBAC, kind: "Role", metadata: { name, namespace: ns }, rules });
const binding = (kind: "ClusterRoleBinding" | "RoleBinding", name: string, roleRef: { kind: string; name: string }, subjects: unknown[], ns?: string): KObject => ({
  apiVersion: RBAC,
  kind,
  metadata: { name, ...(ns ? { namespace: ns } : {}) },
  roleRef: { apiGroup: "rbac.authorization.k8s.io", ...roleRef },
  subjects,
});
const saSubject = { kind: "ServiceAccount", name: "calico-node", namespace: "kube-system" };

describe("ruleAllows", () => {
  const tokenRule = { apiGroups: [""], resources: ["serviceaccounts/token"], resourceNames: ["calico-cni-plugin"], verbs: ["create"] };
  it("matches verb, group, resource/subresource and name exactly", () => {
    expect(ruleAllows(tokenRule, token)).toBe(true);
    expect(ruleAllows(tokenRule, { ...token, verb: "get" })).toBe(false);
    expect(ruleAllows(tokenRule, { ...token, apiGroup: "apps" })).toBe(false);
    expect(ruleAllows(tokenRule, { ...token, name: "default" })).toBe(false);
    expect(ruleAllows(tokenRule, { ...token, subresource: undefined })).toBe(false);
  });
  it("a resource does not cover its subresources; */sub covers one subresource of everything", () => {
    expect(ruleAllows({ apiGroups: [""], resources: ["serviceaccounts"], verbs: ["create"] }, token)).toBe(false);
    expect(ruleAllows({ apiGroups: [""], resources: ["*/token"], verbs: ["create"] }, token)).toBe(true);
    expect(ruleAllows({ apiGroups: [""], resources: ["*/status"], verbs: ["create"] }, token)).toBe(false);
    expect(ruleAllows({ apiGroups: [""], resources: ["*/token"], verbs: ["create"] }, { ...token, subresource: undefined })).toBe(false);
  });
  it("wildcards: verbs, apiGroups and resources '*'", () => {
    expect(ruleAllows({ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }, token)).toBe(true);
    expect(ruleAllows({ apiGroups: ["*"], resources: ["serviceaccounts/token"], verbs: ["*"] }, token)).toBe(true);
  });
  it("resourceNames: empty matches every name; a list never matches a request without a name", () => {
    expect(ruleAllows({ apiGroups: [""], resources: ["configmaps"], verbs: ["list"] }, { verb: "list", apiGroup: "", resource: "configmaps" })).toBe(true);
    expect(ruleAllows({ apiGroups: [""], resources: ["configmaps"], resourceNames: ["x"], verbs: ["list"] }, { verb: "list", apiGroup: "", resource: "configmaps" })).toBe(false);
  });
  it("a rule without apiGroups or verbs allows nothing", () => {
    expect(ruleAllows({ resources: ["*"], verbs: ["*"] }, token)).toBe(false);
    expect(ruleAllows({ apiGroups: ["*"], resources: ["*"] }, token)).toBe(false);
  });
});

describe("authorize", () => {
  const tokenRole = clusterRole("calico-node", [{ apiGroups: [""], resources: ["serviceaccounts/token"], resourceNames: ["calico-cni-plugin"], verbs: ["create"] }]);

  it("a ClusterRoleBinding to the ServiceAccount allows it in every namespace, and says by what", () => {
    const rbac = objs({ clusterRoles: [tokenRole], clusterRoleBindings: [binding("ClusterRoleBinding", "calico-node", { kind: "ClusterRole", name: "calico-node" }, [saSubject])] });
    const d = authorize(rbac, sa, token);
    expect(d).toEqual({ allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "calico-node" of ClusterRole "calico-node" to ServiceAccount "calico-node/kube-system"' });
    expect(authorize(rbac, sa, { ...token, namespace: "other" }).allowed).toBe(true);
    expect(authorize(rbac, serviceAccountUser("other", "calico-node"), token).allowed).toBe(false);
  });

  it("refuses with the API server's message when nothing grants it", () => {
    const d = authorize(objs({ clusterRoles: [tokenRole] }), sa, token);
    expect(d.allowed).toBe(false);
    expect(d.reason).toBe(
      'serviceaccounts "calico-cni-plugin" is forbidden: User "system:serviceaccount:kube-system:calico-node" cannot create resource "serviceaccounts/token" in API group "" in the namespace "kube-system"',
    );
    expect(forbiddenMessage(sa, { verb: "list", apiGroup: "apps", resource: "daemonsets" })).toBe(
      'daemonsets.apps is forbidden: User "system:serviceaccount:kube-system:calico-node" cannot list resource "daemonsets" in API group "apps" at the cluster scope',
    );
  });

  it("a binding to a missing role, or of another subject, grants nothing", () => {
    expect(authorize(objs({ clusterRoleBindings: [binding("ClusterRoleBinding", "b", { kind: "ClusterRole", name: "nope" }, [saSubject])] }), sa, token).allowed).toBe(false);
    const other = binding("ClusterRoleBinding", "b", { kind: "ClusterRole", name: "calico-node" }, [{ kind: "ServiceAccount", name: "calico-cni-plugin", namespace: "kube-system" }]);
    expect(authorize(objs({ clusterRoles: [tokenRole], clusterRoleBindings: [other] }), sa, token).allowed).toBe(false);
  });

  it("RoleBinding: a Role or a ClusterRole, only in the binding's namespace; a ServiceAccount subject defaults to it", () => {
    const r = role("kube-system", "tok", [{ apiGroups: [""], resources: ["serviceaccounts/token"], verbs: ["create"] }]);
    const viaRole = objs({ roles: [r], roleBindings: [binding("RoleBinding", "tok", { kind: "Role", name: "tok" }, [{ kind: "ServiceAccount", name: "calico-node" }], "kube-system")] });
    expect(authorize(viaRole, sa, token).allowed).toBe(true);
    expect(authorize(viaRole, sa, { ...token, namespace: "default" }).allowed).toBe(false);
    expect(authorize(viaRole, sa, { ...token, namespace: undefined }).allowed).toBe(false);
    // a Role of another namespace is not found through this binding
    const wrongNs = objs({ roles: [role("default", "tok", [{ apiGroups: [""], resources: ["*"], verbs: ["*"] }])], roleBindings: viaRole.roleBindings });
    expect(authorize(wrongNs, sa, token).allowed).toBe(false);
    const viaClusterRole = objs({ clusterRoles: [tokenRole], roleBindings: [binding("RoleBinding", "tok", { kind: "ClusterRole", name: "calico-node" }, [saSubject], "kube-system")] });
    expect(authorize(viaClusterRole, sa, token).reason).toBe('RBAC: allowed by RoleBinding "tok/kube-system" of ClusterRole "calico-node" to ServiceAccount "calico-node/kube-system"');
    expect(authorize(viaClusterRole, sa, { ...token, namespace: "calico-system" }).allowed).toBe(false);
  });

  it("Group subjects: the ServiceAccount groups and system:authenticated", () => {
    for (const g of ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]) {
      const rbac = objs({ clusterRoles: [tokenRole], clusterRoleBindings: [binding("ClusterRoleBinding", "b", { kind: "ClusterRole", name: "calico-node" }, [{ kind: "Group", name: g }])] });
      expect(authorize(rbac, sa, token).allowed, g).toBe(true);
    }
    const other = objs({ clusterRoles: [tokenRole], clusterRoleBindings: [binding("ClusterRoleBinding", "b", { kind: "ClusterRole", name: "calico-node" }, [{ kind: "Group", name: "system:serviceaccounts:default" }])] });
    expect(authorize(other, sa, token).allowed).toBe(false);
    const user = objs({ clusterRoles: [tokenRole], clusterRoleBindings: [binding("ClusterRoleBinding", "b", { kind: "ClusterRole", name: "calico-node" }, [{ kind: "User", name: sa.name }])] });
    expect(authorize(user, sa, token).allowed).toBe(true);
  });

  it("an aggregated ClusterRole takes the rules of the roles its selectors match, not its own", () => {
    const agg = clusterRole("agg", [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }], {
      aggregationRule: { clusterRoleSelectors: [{ matchLabels: { "calico.example/aggregate": "true" } }] },
    });
    const part = { ...clusterRole("part", tokenRole["rules"] as unknown[]), metadata: { name: "part", labels: { "calico.example/aggregate": "true" } } };
    const b = binding("ClusterRoleBinding", "b", { kind: "ClusterRole", name: "agg" }, [saSubject]);
    expect(authorize(objs({ clusterRoles: [agg, part], clusterRoleBindings: [b] }), sa, token).allowed).toBe(true);
    expect(authorize(objs({ clusterRoles: [agg], clusterRoleBindings: [b] }), sa, token).allowed).toBe(false);
    expect(authorize(objs({ clusterRoles: [agg, part], clusterRoleBindings: [b] }), sa, { verb: "delete", apiGroup: "", resource: "nodes" }).allowed).toBe(false);
  });

  it("system:masters is allowed everything", () => {
    expect(authorize(objs({}), { name: "kubernetes-admin", groups: ["system:masters"] }, token).allowed).toBe(true);
  });
});
