import { describe, expect, it } from "vitest";
import {
  daemonSetFitsNode,
  daemonSetNodes,
  podFitsNode,
  schedulingProblems,
  tolerates,
  untoleratedTaints,
  type NodeLike,
  type Taint,
} from "../../src/lab/apisim/index.js";
import { matchesRequirements, parseLabelSelector } from "../../src/lab/apisim/selectors.js";

const node = (name: string, labels: Record<string, string> = {}, taints: Taint[] = []): NodeLike => ({
  metadata: { name, labels: { "kubernetes.io/hostname": name, ...labels } },
  spec: { taints },
});

const cp = node("cp1", { "node-role.kubernetes.io/control-plane": "" }, [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }]);
const worker = node("w1");
const frontend = node("fe1", { role: "frontend" }, [{ key: "role", value: "frontend", effect: "NoSchedule" }]);
const frontendOpen = node("fe2", { role: "frontend" });

describe("tolerations", () => {
  it("Exists with no key tolerates every taint of the effect", () => {
    expect(tolerates({ operator: "Exists", effect: "NoSchedule" }, { key: "a", value: "b", effect: "NoSchedule" })).toBe(true);
    expect(tolerates({ operator: "Exists", effect: "NoSchedule" }, { key: "a", effect: "NoExecute" })).toBe(false);
    expect(tolerates({ operator: "Exists" }, { key: "a", effect: "NoExecute" })).toBe(true);
  });
  it("Equal needs key and value; a missing operator means Equal", () => {
    expect(tolerates({ key: "role", value: "frontend", effect: "NoSchedule" }, { key: "role", value: "frontend", effect: "NoSchedule" })).toBe(true);
    expect(tolerates({ key: "role", operator: "Equal", value: "backend" }, { key: "role", value: "frontend", effect: "NoSchedule" })).toBe(false);
    expect(tolerates({ key: "role", operator: "Exists" }, { key: "role", value: "frontend", effect: "NoSchedule" })).toBe(true);
    expect(tolerates({ key: "other", operator: "Exists" }, { key: "role", value: "frontend", effect: "NoSchedule" })).toBe(false);
  });
  it("PreferNoSchedule never blocks", () => {
    expect(untoleratedTaints([], [{ key: "a", effect: "PreferNoSchedule" }])).toEqual([]);
    expect(untoleratedTaints([], [{ key: "a", effect: "NoExecute" }])).toHaveLength(1);
  });
});

describe("podFitsNode", () => {
  it("refuses a tainted node without a toleration and says which taint", () => {
    expect(podFitsNode({}, worker)).toBe(true);
    expect(podFitsNode({}, cp)).toBe(false);
    expect(schedulingProblems({}, cp)).toEqual(["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"]);
  });
  it("nodeSelector must match every label", () => {
    expect(podFitsNode({ nodeSelector: { role: "frontend" } }, frontendOpen)).toBe(true);
    expect(podFitsNode({ nodeSelector: { role: "frontend" } }, worker)).toBe(false);
    expect(podFitsNode({ nodeSelector: { role: "frontend", disk: "ssd" } }, frontendOpen)).toBe(false);
  });
  it("required node affinity: terms are ORed, expressions ANDed, all four operators", () => {
    const aff = (exprs: unknown[][]): unknown => ({
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: exprs.map((e) => ({ matchExpressions: e })) } },
    });
    const inFrontend = { key: "role", operator: "In", values: ["frontend"] };
    const notCp = { key: "node-role.kubernetes.io/control-plane", operator: "DoesNotExist" };
    const hasRole = { key: "role", operator: "Exists" };
    const notFrontend = { key: "role", operator: "NotIn", values: ["frontend"] };
    expect(podFitsNode({ affinity: aff([[inFrontend]]) }, frontendOpen)).toBe(true);
    expect(podFitsNode({ affinity: aff([[inFrontend]]) }, worker)).toBe(false);
    expect(podFitsNode({ affinity: aff([[hasRole, notCp]]) }, frontendOpen)).toBe(true);
    expect(podFitsNode({ affinity: aff([[notFrontend]]) }, worker)).toBe(true);
    expect(podFitsNode({ affinity: aff([[notFrontend]]) }, frontendOpen)).toBe(false);
    expect(podFitsNode({ affinity: aff([[inFrontend], [notFrontend]]) }, worker)).toBe(true);
    expect(podFitsNode({ affinity: aff([]) }, worker)).toBe(false);
  });
  it("matchFields selects by node name", () => {
    const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["w1"] }] }] } } };
    expect(podFitsNode({ affinity }, worker)).toBe(true);
    expect(podFitsNode({ affinity }, frontendOpen)).toBe(false);
  });
});

describe("DaemonSet placement", () => {
  const ds = (spec: Record<string, unknown>): unknown => ({ spec: { template: { spec } } });
  const nodes = [cp, worker, frontend, frontendOpen];
  it("Filebeat-style: tolerate everything, run on every node including control planes", () => {
    expect(daemonSetNodes(ds({ tolerations: [{ operator: "Exists" }] }), nodes)).toEqual(["cp1", "w1", "fe1", "fe2"]);
  });
  it("a plain DaemonSet avoids tainted nodes", () => {
    expect(daemonSetNodes(ds({}), nodes)).toEqual(["w1", "fe2"]);
  });
  it("Traefik-style: only frontend nodes, tolerating their taint", () => {
    const traefik = ds({ nodeSelector: { role: "frontend" }, tolerations: [{ key: "role", operator: "Equal", value: "frontend", effect: "NoSchedule" }] });
    expect(daemonSetNodes(traefik, nodes)).toEqual(["fe1", "fe2"]);
  });
  it("daemon pods tolerate cordoned nodes, as the DaemonSet controller adds that toleration", () => {
    const cordoned: NodeLike = { metadata: { name: "c" }, spec: { unschedulable: true, taints: [{ key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" }] } };
    expect(daemonSetFitsNode(ds({}), cordoned)).toBe(true);
    expect(podFitsNode({}, cordoned)).toBe(false);
  });
});

describe("label selector strings", () => {
  const labels = { app: "web", tier: "front", env: "prod" };
  it.each([
    ["app=web", true],
    ["app==web", true],
    ["app!=web", false],
    ["app in (web,api)", true],
    ["app notin (web)", false],
    ["tier", true],
    ["!tier", false],
    ["!missing", true],
    ["app=web,env in (prod, staging),!missing", true],
    ["app=web,env=dev", false],
    ["", true],
  ])("%s → %s", (sel, want) => {
    expect(matchesRequirements(labels, parseLabelSelector(sel))).toBe(want);
  });
  it("a malformed selector is a 400 BadRequest", () => {
    expect(() => parseLabelSelector("app in web")).toThrow(/unable to parse requirement/);
    expect(() => parseLabelSelector("bad key!=x")).toThrow();
  });
});
