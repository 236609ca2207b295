// answers.ts: the answers file, the flags, and the one-line "missing answer" errors.
import { describe, expect, it } from "vitest";
import { ExitCode, InventoryError, UsageError } from "../../src/errors.js";
import {
  DEFAULT_KUBERNETES_VERSION,
  KUBERNETES_VERSIONS,
  addonAnswers,
  completeAnswers,
  mergeFlags,
  parseAnswers,
  parseHostFlag,
} from "../../src/wizard/answers.js";

describe("parseAnswers", () => {
  it("reads a full answers file", () => {
    const a = parseAnswers(
      [
        "name: lab",
        "kubernetesVersion: '1.35'",
        "ssh: { identityFile: /k, knownHostsFile: /kh }",
        "hosts:",
        "  - { address: 198.18.1.11, roles: [control-plane] }",
        "  - { name: w1, address: 198.18.1.12, roles: [worker], user: kube, sudoPasswordEnv: KUBE_PW }",
        "addons: [prometheus, grafana]",
      ].join("\n"),
      "answers.yaml",
    );
    expect(a.name).toBe("lab");
    expect(a.hosts).toHaveLength(2);
    expect(a.addons).toEqual(["prometheus", "grafana"]);
  });

  it("points at the line of each problem", () => {
    try {
      parseAnswers("name: lab\nhosts:\n  - address: 10.0.0.1\n    roles: [boss]\n  - address: 10.0.0.2\n    roles: [worker]\n    colour: red\n", "a.yaml");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InventoryError);
      const issues = (e as InventoryError).issues;
      expect(issues.map((i) => [i.path, i.line])).toEqual([
        ["hosts[0].roles[0]", 4],
        ["hosts[1]", 5],
      ]);
      expect(issues[1]!.message).toBe("unknown field colour");
    }
  });

  it("reports YAML syntax errors with a position", () => {
    expect(() => parseAnswers("name: [unclosed\n", "a.yaml")).toThrow(/YAML syntax error/);
  });
});

describe("flags", () => {
  it("--host NAME=ADDRESS[:PORT]:ROLES", () => {
    expect(parseHostFlag("cp1=10.0.0.1:cp")).toEqual({ name: "cp1", address: "10.0.0.1", roles: ["control-plane"] });
    expect(parseHostFlag("fe1=10.0.0.9:2222:worker,frontend")).toEqual({ name: "fe1", address: "10.0.0.9", port: 2222, roles: ["worker", "frontend"] });
    expect(() => parseHostFlag("10.0.0.1")).toThrow(UsageError);
    expect(() => parseHostFlag("x=10.0.0.1:boss")).toThrow(/unknown role 'boss'/);
  });

  it("--kubernetes-version and the answers file take only the supported minors (src/versions.ts)", () => {
    expect(() => mergeFlags({}, { kubernetesVersion: "1.33" })).toThrow(/not supported; kubesmith installs 1.35 or 1.36/);
    expect(mergeFlags({}, { kubernetesVersion: "1.35" }).kubernetesVersion).toBe("1.35");
    expect(() => parseAnswers("kubernetesVersion: '1.34'\n", "answers.yaml")).toThrow(InventoryError);
    expect(KUBERNETES_VERSIONS).toEqual(["1.35", "1.36"]);
    expect(DEFAULT_KUBERNETES_VERSION).toBe("1.36");
  });

  it("flags win over the answers file", () => {
    const merged = mergeFlags(
      { name: "file", ssh: { user: "debian", identityFile: "/a" }, addons: { traefik: { mode: "nodePort" } } },
      { name: "flag", identityFile: "/b", addons: "traefik,prometheus", set: ["traefik.mode=hostPort", "prometheus.storage.type=pvc"] },
    );
    expect(merged.name).toBe("flag");
    expect(merged.ssh).toEqual({ user: "debian", identityFile: "/b" });
    expect(merged.addons).toEqual({ traefik: { mode: "hostPort" }, prometheus: { storage: { type: "pvc" } } });
    expect(mergeFlags({ addons: ["grafana"] }, { addons: "none" }).addons).toEqual({});
    expect(() => mergeFlags({}, { addons: "nginx" })).toThrow(/unknown add-on 'nginx'/);
    expect(() => mergeFlags({}, { cpVip: "10.0.0.300" })).toThrow(/--cp-vip/);
    expect(mergeFlags({}, { cpVip: "10.0.0.100/16@bond0" }).controlPlaneEndpoint).toEqual({ vip: "10.0.0.100", prefix: 16, interface: "bond0" });
  });

  it("add-on defaults fill the main values; unanswered means the default bundles that fit", () => {
    const ctx = { frontends: true, edgeVip: false };
    expect(addonAnswers(["filebeat", "traefik"], ctx)).toEqual([
      { name: "traefik", values: { mode: "nodePort" } },
      { name: "filebeat", values: { output: { type: "console" } } },
    ]);
    expect(addonAnswers(undefined, ctx).map((a) => a.name)).toEqual(["prometheus", "grafana", "traefik", "filebeat"]);
    expect(addonAnswers(undefined, { frontends: true, edgeVip: true }).map((a) => a.name)).toContain("keepalived-edge");
    expect(addonAnswers(undefined, { frontends: false, edgeVip: false }).map((a) => a.name)).toEqual(["prometheus", "grafana", "filebeat"]);
  });
});

describe("completeAnswers: a missing answer names its flag", () => {
  const miss = (input: Parameters<typeof completeAnswers>[0]) => {
    try {
      completeAnswers(input, { probed: false });
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      expect((e as UsageError).exitCode).toBe(ExitCode.Usage);
      expect((e as UsageError).oneLine()).not.toContain("\n");
      return (e as UsageError).message;
    }
    throw new Error("no error");
  };
  const host = { address: "10.0.0.1", roles: ["control-plane" as const] };
  it.each([
    [{ hosts: [host] }, /cluster name .*--name NAME/],
    [{ name: "x" }, /the hosts .*--host NAME=ADDRESS:ROLES/],
    [{ name: "x", hosts: [host, { ...host, address: "10.0.0.2" }] }, /control-plane VIP .*--cp-vip VIP/],
    [{ name: "x", hosts: [host], addons: ["keepalived-edge" as const] }, /edge VIP .*--edge-vip VIP/],
    [{ name: "x", hosts: [host, { ...host, address: "10.0.0.2" }], controlPlaneEndpoint: { vip: "10.0.0.100" } }, /interface .*--vip-interface/],
    [{ name: "x", hosts: [host], addons: { filebeat: { output: { type: "logstash" } } } }, /filebeat .*--set filebeat\.output\.hosts=/],
  ])("%j", (input, re) => {
    expect(miss(input)).toMatch(re);
  });
});

describe("the example answers file (inventories/answers.example.yaml)", () => {
  it("parses, completes without probing and generates an inventory that validates", async () => {
    const { readFileSync } = await import("node:fs");
    const { completeAnswers } = await import("../../src/wizard/answers.js");
    const { generateInventory, validateGenerated } = await import("../../src/wizard/generate.js");
    const a = completeAnswers(parseAnswers(readFileSync("inventories/answers.example.yaml", "utf8"), "answers.example.yaml"), { probed: false });
    const loaded = validateGenerated(generateInventory(a), "out.yaml", a);
    expect(loaded.inventory.hosts.map((h) => h.name)).toEqual(["cp1", "worker1", "frontend1"]);
  });

  it("a wrong shape is told in the answers file's terms, pointing at the example", () => {
    const e = (() => {
      try {
        parseAnswers("name: demo\nhosts:\n  - cp1@203.0.113.10\n", "answers.yaml");
      } catch (err) {
        return err as InventoryError;
      }
      throw new Error("no error");
    })();
    const line = e.issues.map((i) => `${i.path}: ${i.message}`).join("\n");
    expect(line).toContain('hosts[0]: must be a mapping (key: value), not "cp1@203.0.113.10"');
    expect(line).toContain("answers.example.yaml");
    expect(line).not.toMatch(/Invalid input|expected object/);
  });

  it("a pod or service CIDR with host bits set is refused (file, flag and wizard share the check)", async () => {
    expect(() => parseAnswers("podCIDR: 10.244.0.1/16\n", "answers.yaml")).toThrow(/podCIDR.*host bits set: the network is 10\.244\.0\.0\/16/);
    const { hostBitsProblem } = await import("../../src/wizard/answers.js");
    expect(hostBitsProblem("10.96.0.0/12")).toBeUndefined();
    expect(hostBitsProblem("10.96.1.0/12")).toBe("has host bits set: the network is 10.96.0.0/12");
  });
});
