// The answers kept at Ctrl-C: in the answers file's shape, so `init --answers FILE` reads them back.
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { parseAnswers } from "../../src/wizard/answers.js";
import { toAnswersInput } from "../../src/wizard/questions.js";

describe("toAnswersInput", () => {
  const cp1 = { name: "cp1", address: "192.168.1.10", roles: ["control-plane" as const], user: "root", port: 22, identityFile: "/keys/id" };
  const w1 = { name: "w1", address: "192.168.1.11", roles: ["worker" as const, "frontend" as const], user: "ops", port: 2222, agent: true, sudoPasswordEnv: "SUDO_PW" };

  it("keeps every answer given so far and reads back through the answers file parser unchanged", () => {
    const kept = toAnswersInput(
      {
        name: "half",
        kubernetesVersion: "1.35",
        knownHostsFile: "~/.kubesmith/known_hosts",
        hosts: [cp1, w1],
        controlPlaneEndpoint: { vip: "192.168.1.100", interface: "eth0" },
        addons: [{ name: "prometheus", values: { storage: { type: "pvc" } } }],
        podCIDR: "10.244.0.0/16",
      },
      {},
    );
    expect(kept).toEqual({
      name: "half",
      kubernetesVersion: "1.35",
      ssh: { knownHostsFile: "~/.kubesmith/known_hosts" },
      hosts: [cp1, w1],
      controlPlaneEndpoint: { vip: "192.168.1.100", interface: "eth0" },
      addons: { prometheus: { storage: { type: "pvc" } } },
      podCIDR: "10.244.0.0/16",
    });
    expect(parseAnswers(stringify(kept), "kept.answers.yaml")).toEqual(kept);
  });

  it("hosts the flags gave that were not reached yet are kept; those already asked are not repeated", () => {
    const seed = { hosts: [{ name: "cp1", address: "10.0.0.1", roles: ["control-plane" as const] }, { name: "w9", address: "10.0.0.9", roles: ["worker" as const] }] };
    // cp1 was asked and then edited to another address: it is not added back from the flags
    const edited = { ...cp1, address: "10.0.0.5" };
    expect(toAnswersInput({ hosts: [edited], seedHostsDone: 1 }, seed).hosts).toEqual([edited, seed.hosts[1]]);
    expect(toAnswersInput({ hosts: [], seedHostsDone: 0 }, seed).hosts).toEqual(seed.hosts);
    expect(toAnswersInput({ hosts: [edited], seedHostsDone: 2 }, seed).hosts).toEqual([edited]);
  });

  it("answers the flags gave for later questions are kept", () => {
    expect(toAnswersInput({ name: "x", hosts: [] }, { edgeVIP: { vip: "10.0.0.3" }, serviceCIDR: "10.96.0.0/12", addons: ["traefik"] })).toEqual({
      name: "x",
      edgeVIP: { vip: "10.0.0.3" },
      serviceCIDR: "10.96.0.0/12",
      addons: ["traefik"],
    });
  });
});
