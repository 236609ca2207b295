// The product's kubeadm configs (src/scripts/kubeadm.ts) through the simulated kubeadm's decoder
// (src/lab/sim/kubeadm-config.ts) in its strictest form, `kubeadm config validate`: every document must be
// of an API the kubeadm accepts, with no unknown field and no value of the wrong type. Configs for the
// default inventory (inventories/example.yaml: one control plane, workers) and an HA cluster (three
// control planes behind a VIP), rendered as src/phases/controlplane.ts renders them.
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { decodeKubeadmConfig } from "../../src/lab/sim/kubeadm-config.js";
import { KUBEADM_API, kubeadmInitConfig, kubeadmJoinConfig } from "../../src/scripts/kubeadm.js";
import { CA_HASH, CERT_KEY, TOKEN } from "./fixtures.js";

/** Product defects the decoder finds; empty when the product renders only what kubeadm accepts. */
const EXPECTED_FAILURES: string[] = [];

const VERSIONS = ["1.33.2", "1.34.1", "1.35.0"];

function configs(version: string): [string, string][] {
  const single = { host: "cp1", ip: "203.0.113.10" };
  const vip = "203.0.113.100";
  const cps = [single, { host: "cp2", ip: "203.0.113.11" }, { host: "cp3", ip: "203.0.113.12" }];
  return [
    [
      "default: init",
      kubeadmInitConfig({
        nodeName: single.host,
        nodeIP: single.ip,
        kubernetesVersion: version,
        advertiseAddress: single.ip,
        controlPlaneEndpoint: `${single.ip}:6443`,
        podSubnet: "10.244.0.0/16",
        serviceSubnet: "10.96.0.0/12",
        certSANs: [single.ip, single.ip, single.ip, single.host],
        clusterName: "example",
        bootstrapToken: TOKEN,
        certificateKey: CERT_KEY,
      }),
    ],
    [
      "default: worker join (with a taint)",
      kubeadmJoinConfig({ kind: "worker", nodeName: "worker1", nodeIP: "203.0.113.21", apiServerEndpoint: `${single.ip}:6443`, token: TOKEN, caCertHashes: [CA_HASH], taints: [{ key: "dedicated", value: "edge", effect: "NoSchedule" }] }),
    ],
    [
      "HA: init (schedulable control plane, offline registry)",
      kubeadmInitConfig({
        nodeName: "cp1",
        nodeIP: cps[0]!.ip,
        kubernetesVersion: version,
        advertiseAddress: cps[0]!.ip,
        controlPlaneEndpoint: `${vip}:6443`,
        podSubnet: "10.244.0.0/16",
        serviceSubnet: "10.96.0.0/12",
        certSANs: [vip, ...cps.flatMap((c) => [c.ip, c.ip, c.host])],
        clusterName: "ha",
        bootstrapToken: TOKEN,
        certificateKey: CERT_KEY,
        taints: [],
        imageRepository: "198.18.0.1:5000/k8s",
      }),
    ],
    [
      "HA: control-plane join",
      kubeadmJoinConfig({ kind: "control-plane", nodeName: "cp2", nodeIP: cps[1]!.ip, advertiseAddress: cps[1]!.ip, apiServerEndpoint: `${vip}:6443`, token: TOKEN, caCertHashes: [CA_HASH], certificateKey: CERT_KEY }),
    ],
    // ensureJoinSecrets (src/phases/controlplane.ts): `kubeadm init phase upload-certs --config`
    ["upload-certs config", stringify({ apiVersion: KUBEADM_API, kind: "InitConfiguration", certificateKey: CERT_KEY })],
  ];
}

describe("the product's kubeadm configs, as `kubeadm config validate` of the same version reads them", () => {
  const failures: string[] = [];
  for (const version of VERSIONS) {
    for (const [name, text] of configs(version)) {
      it(`${version} ${name}`, () => {
        const r = decodeKubeadmConfig(text, { kubeadmVersion: `v${version}`, strict: true });
        const problem = r.error ?? (r.warnings.length ? r.warnings.join("; ") : undefined);
        if (problem) failures.push(`${version} ${name}: ${problem}`);
        expect(EXPECTED_FAILURES.includes(`${version} ${name}: ${problem}`) || problem === undefined, problem).toBe(true);
      });
    }
  }
  it("finds exactly the recorded product defects", () => {
    expect(failures).toEqual(EXPECTED_FAILURES);
  });
});
