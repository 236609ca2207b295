import { describe, expect, it } from "vitest";
import { table } from "../../src/ui/table.js";

describe("table", () => {
  const rows = [
    ["calico", "daemonset/calico-node 3/3, deployment/calico-kube-controllers 1/1", "healthy"],
    ["prometheus", "deployment/prometheus 1/1, daemonset/prometheus-node-exporter 3/3, deployment/prometheus-kube-state-metrics 1/1", "healthy"],
  ];
  it("without a width: columns as wide as their widest cell", () => {
    const out = table(["ADD-ON", "WORKLOADS", "HEALTH"], rows);
    expect(out.split("\n")[2]).toContain("prometheus-kube-state-metrics 1/1  healthy");
  });
  it("with a terminal's width: the widest column is cut with … so that every line fits, the others kept whole", () => {
    const out = table(["ADD-ON", "WORKLOADS", "HEALTH"], rows, 80);
    for (const l of out.trimEnd().split("\n")) expect(l.length, l).toBeLessThanOrEqual(80);
    expect(out).toMatch(/^prometheus  deployment\/prometheus 1\/1, .*…  healthy$/m);
    expect(out).toMatch(/^calico {6}/m);
  });
  it("never narrows a column below 8 characters (a tiny terminal gets long lines rather than nothing)", () => {
    const out = table(["A", "B"], [["abcdefghijkl", "mnopqrstuvwx"]], 5);
    expect(out.split("\n")[1]).toBe("abcdefg…  mnopqrs…");
  });
});
