// generate.ts: answers -> commented inventory text that the real loader accepts, with shared SSH
// settings hoisted under ssh:, comments on every section, and the rules' own messages for bad answers.
import { describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { InventoryError } from "../../src/errors.js";
import { parseInventory } from "../../src/inventory/load.js";
import { type Answers, type AnswersInput, completeAnswers } from "../../src/wizard/answers.js";
import { answerIssues, generateInventory, inventoryObject, validateGenerated } from "../../src/wizard/generate.js";

const ha: AnswersInput = {
  name: "demo",
  kubernetesVersion: "1.35",
  ssh: { identityFile: "/keys/id_ed25519", knownHostsFile: "/state/known_hosts" },
  hosts: [
    { address: "192.168.56.11", roles: ["control-plane"] },
    { address: "192.168.56.12", roles: ["control-plane"] },
    { address: "192.168.56.13", roles: ["control-plane"] },
    { name: "db", address: "192.168.56.21", roles: ["worker"], user: "debian", sudoPasswordEnv: "DB_SUDO" },
    { address: "192.168.56.31", roles: ["worker", "frontend"], port: 2222 },
  ],
  controlPlaneEndpoint: { vip: "192.168.56.100", interface: "eth1" },
  edgeVIP: { vip: "192.168.56.101" },
  addons: { traefik: { mode: "hostPort" }, "keepalived-edge": null, filebeat: { output: { type: "logstash", hosts: "ls1:5044, ls2:5044" } } },
};

function complete(input: AnswersInput, probed = true): Answers {
  return completeAnswers(input, { probed, interfaceOf: (a) => (a.startsWith("192.168.56.") ? "enp0s8" : undefined), cwd: "/work" });
}

describe("generateInventory", () => {
  it("gives an inventory the loader accepts, with the answers in it", () => {
    const a = complete(ha);
    const text = generateInventory(a);
    const { inventory: inv, warnings } = parseInventory(text, "/tmp/inventory.yaml", { DB_SUDO: "x" });
    expect(warnings).toEqual([]);
    expect(inv.cluster).toMatchObject({
      name: "demo",
      kubernetesVersion: "1.35",
      podCIDR: "10.244.0.0/16",
      serviceCIDR: "10.96.0.0/12",
      controlPlaneEndpoint: { vip: "192.168.56.100", interface: "eth1" },
      // no interface given for the edge VIP: the one found on the frontend host
      edgeVIP: { vip: "192.168.56.101", interface: "enp0s8" },
    });
    expect(inv.hosts.map((h) => [h.name, h.address, h.roles.join("+")])).toEqual([
      ["cp1", "192.168.56.11", "control-plane"],
      ["cp2", "192.168.56.12", "control-plane"],
      ["cp3", "192.168.56.13", "control-plane"],
      ["db", "192.168.56.21", "worker"],
      ["fe1", "192.168.56.31", "worker+frontend"],
    ]);
    // shared settings once under ssh:, the odd ones per host
    expect(inv.ssh).toMatchObject({ identityFile: "/keys/id_ed25519", knownHostsFile: "/state/known_hosts", hostKeyPolicy: "strict" });
    expect(inv.ssh?.user).toBeUndefined();
    expect(inv.ssh?.port).toBeUndefined();
    expect(inv.hosts[3]).toMatchObject({ user: "debian", port: 22, sudo: { password: "x" } });
    expect(inv.hosts[4]).toMatchObject({ user: "root", port: 2222 });
    // every bundle named: the chosen ones on, the others explicitly off (most are on by default)
    expect(inv.addons).toEqual({
      prometheus: { enabled: false },
      grafana: { enabled: false },
      traefik: { enabled: true, values: { mode: "hostPort" } },
      filebeat: { enabled: true, values: { output: { type: "logstash", hosts: ["ls1:5044", "ls2:5044"] } } },
      // Traefik on host ports: keepalived-edge checks port 80, not the NodePort
      "keepalived-edge": { enabled: true, values: { track: { port: 80 } } },
      hello: { enabled: false },
    });
  });

  it("explains each section in comments, and writes no secret", () => {
    const text = generateInventory(complete(ha), { notes: { cp1: "Debian GNU/Linux 12, x86_64, 2 CPUs, 3.8 GiB memory" }, fileName: "prod.yaml" });
    const doc = parseDocument(text);
    expect(doc.commentBefore).toMatch(/kubesmith up -i prod\.yaml/);
    for (const re of [
      /^# The cluster: /m,
      /^ {2}# Kubernetes minor version/m,
      /^ {2}# Pod and Service networks/m,
      /^ {2}# The 3 control planes share one API address/m,
      /^ {2}# The edge VIP: held by keepalived on the frontend node \(fe1\)/m,
      /^# How kubesmith reaches the hosts over SSH/m,
      /^ {2}# Every host key was shown and recorded here by init/m,
      /^# The machines\. Roles:/m,
      /^ {2}# Debian GNU\/Linux 12, x86_64, 2 CPUs, 3\.8 GiB memory\n {2}- name: cp1$/m,
      /^ {4}# sudo password from the environment: export DB_SUDO=/m,
      /^# Add-on bundles, applied after the cluster is up\. enabled: false keeps a bundle off/m,
      /^ {2}# ingress controller on the frontend nodes\n {2}traefik:\n {4}enabled: true/m,
      /^ {2}# dashboards on Prometheus .*\n {2}grafana:\n {4}enabled: false/m,
    ]) {
      expect(text).toMatch(re);
    }
    expect(text).toContain("password: ${DB_SUDO}");
    expect(text).toMatch(/roles: \[worker, frontend\]/);
  });

  it("is pure: the same answers give the same text", () => {
    expect(generateInventory(complete(ha))).toBe(generateInventory(complete(ha)));
  });

  it("one control plane, add-ons not answered, not probed: accept-new, the default bundles that fit", () => {
    const a = complete({ name: "one", hosts: [{ address: "10.1.2.3", roles: ["control-plane", "worker"] }] }, false);
    const text = generateInventory(a);
    const inv = parseInventory(text, "/tmp/i.yaml", {}).inventory;
    expect(inv.ssh).toMatchObject({ user: "root", port: 22, hostKeyPolicy: "accept-new" });
    // no frontend: the edge bundles stay off; no edge VIP: keepalived-edge too
    expect(Object.entries(inv.addons ?? {}).filter(([, v]) => v.enabled).map(([k]) => k)).toEqual(["prometheus", "grafana", "filebeat"]);
    expect(inv.addons?.prometheus?.values).toEqual({ storage: { type: "emptyDir" } });
    expect(text).toMatch(/One control plane: the API server is reached at 10\.1\.2\.3/);
    expect(text).toMatch(/# accept-new: a host's key is trusted the first time/);
  });

  it("agent and bastion answers", () => {
    const a = complete({
      name: "jump",
      ssh: { agent: true, bastion: { address: "bastion.example.com", user: "ops" } },
      hosts: [
        { address: "10.9.0.10", roles: ["control-plane"] },
        { address: "10.9.0.20", roles: ["worker"], identityFile: "keys/w.key" },
      ],
    });
    const inv = parseInventory(generateInventory(a), "/tmp/i.yaml", {}).inventory;
    expect(inv.ssh?.bastion).toEqual({ address: "bastion.example.com", user: "ops" });
    expect(inv.hosts[0]?.ssh).toEqual({ agent: true });
    // a relative key path is made absolute from where init ran
    expect(inv.hosts[1]?.ssh).toEqual({ identityFile: "/work/keys/w.key" });
  });

  it("answers that break the rules are refused with the rules' messages", () => {
    const bad = complete({ ...ha, podCIDR: "192.168.0.0/16" });
    const text = generateInventory(bad);
    expect(() => validateGenerated(text, "/tmp/x.yaml", bad)).toThrow(InventoryError);
    const issues = answerIssues(bad, ["cluster.podCIDR"]);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toMatch(/podCIDR 192\.168\.0\.0\/16 contains hosts .*choose e\.g\. 10\.244\.0\.0\/16/);
    expect(answerIssues(bad, ["cluster.serviceCIDR"])).toEqual([]);

    const vip = complete({ ...ha, controlPlaneEndpoint: { vip: "192.168.57.5", interface: "eth0" } });
    expect(answerIssues(vip, ["cluster.controlPlaneEndpoint"])[0]?.message).toMatch(/192\.168\.57\.5 is outside the \/24 network of control planes/);
    const taken = complete({ ...ha, edgeVIP: { vip: "192.168.56.12" } });
    expect(answerIssues(taken, ["cluster.edgeVIP"])[0]?.message).toMatch(/is the address of host cp2/);
  });

  it("inventoryObject hoists only what every host shares", () => {
    const o = inventoryObject(complete(ha)) as { ssh: Record<string, unknown>; hosts: Record<string, unknown>[] };
    expect(Object.keys(o.ssh).sort()).toEqual(["hostKeyPolicy", "identityFile", "knownHostsFile"]);
    expect(o.hosts.every((h) => "user" in h && "port" in h)).toBe(true);
  });
});
