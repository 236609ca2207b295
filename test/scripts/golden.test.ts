// Golden tests of the script/config generators (src/scripts/).
//
// Each generator's output is compared byte for byte with a file under test/scripts/golden/.
// After an intended change, regenerate them and READ the diff before committing:
//
//   UPDATE_GOLDEN=1 npx vitest run test/scripts
//   git diff test/scripts/golden
import { describe, it } from "vitest";
import { prepareOsSteps } from "../../src/scripts/os.js";
import { firewallOpenings } from "../../src/scripts/firewall.js";
import { containerdConfigStep, renderContainerdConfig, renderHostsToml } from "../../src/scripts/containerd.js";
import { renderSteps } from "../../src/scripts/step.js";
import { joinGuardProbe, kubeadmInitConfig, kubeadmJoinConfig } from "../../src/scripts/kubeadm.js";
import { apiserverHealthCheckScript, controlPlaneKeepalivedConfig, keepalivedSteps } from "../../src/scripts/keepalived.js";
import { resetSteps } from "../../src/scripts/reset.js";
import { CA_HASH, CERT_KEY, KEEPALIVED, KEEPALIVED_V2, TOKEN, golden } from "./fixtures.js";

describe("golden: prepareOsSteps", () => {
  it("apt, minor only", () => {
    golden("os-apt-1.36.txt", renderSteps(prepareOsSteps({ packageManager: "apt", kubernetesVersion: "1.36" })));
  });
  it("apt, patch, offline mirror", () => {
    golden(
      "os-apt-1.36.2-offline.txt",
      renderSteps(
        prepareOsSteps({
          packageManager: "apt",
          kubernetesVersion: "1.36.2",
          offline: { aptRepo: "http://198.18.0.1:8080/k8s/v1.36/deb/" },
        }),
      ),
    );
  });
  it("dnf, minor only", () => {
    golden("os-dnf-1.36.txt", renderSteps(prepareOsSteps({ packageManager: "dnf", kubernetesVersion: "1.36" })));
  });
  it("yum, patch, offline mirror", () => {
    golden(
      "os-yum-1.36.2-offline.txt",
      renderSteps(
        prepareOsSteps({
          packageManager: "yum",
          kubernetesVersion: "1.36.2",
          offline: { rpmRepo: "http://198.18.0.1:8080/k8s/v1.36/rpm/" },
        }),
      ),
    );
  });
});

describe("golden: RHEL-like host settings (SELinux, NetworkManager, firewalld)", () => {
  it("dnf, control plane with a VIP: firewalld opens the control plane's ports and VRRP", () => {
    const openings = firewallOpenings({ controlPlane: true, worker: false, frontend: false, vrrp: true });
    golden("os-dnf-firewall-cp.txt", renderSteps(prepareOsSteps({ packageManager: "dnf", kubernetesVersion: "1.36", firewall: { mode: "manage", openings } }).slice(3, 6)));
  });
  it("dnf, frontend: NodePorts, 80/443 and VRRP; and firewall: disable", () => {
    const openings = firewallOpenings({ controlPlane: false, worker: true, frontend: true, vrrp: true });
    golden(
      "os-dnf-firewall-fe-disable.txt",
      renderSteps([
        ...prepareOsSteps({ packageManager: "dnf", kubernetesVersion: "1.36", firewall: { mode: "manage", openings } }).slice(5, 6),
        ...prepareOsSteps({ packageManager: "dnf", kubernetesVersion: "1.36", firewall: { mode: "disable", openings } }).slice(5, 6),
      ]),
    );
  });
});

describe("golden: containerd", () => {
  it("config.toml for 1.36 (version 3, SystemdCgroup, kubeadm's pause image)", () => {
    golden("containerd-config-1.36.toml", renderContainerdConfig({ kubernetesVersion: "1.36" }));
  });
  it("config.toml for 1.35.4 with an offline image repository", () => {
    golden("containerd-config-1.35.4-offline.toml", renderContainerdConfig({ kubernetesVersion: "1.35.4", imageRepository: "198.18.0.1:5000/k8s" }));
  });
  it("hosts.toml for docker.io with two mirrors, and for _default", () => {
    golden(
      "containerd-hosts-docker.io.toml",
      renderHostsToml("docker.io", ["http://198.18.0.1:5001/", "https://mirror.example.net"]) + "---\n" + renderHostsToml("_default", ["http://198.18.0.1:5002"]),
    );
  });
  it("step with mirrors", () => {
    golden(
      "containerd-config-step-mirrors.txt",
      renderSteps([containerdConfigStep({ kubernetesVersion: "1.36", registryMirrors: { "registry.k8s.io": ["http://198.18.0.1:5000"], "docker.io": ["http://198.18.0.1:5001"] } })]),
    );
  });
});

describe("golden: kubeadm", () => {
  it("init config (minor only → stable-1.36 label, VIP endpoint)", () => {
    golden(
      "kubeadm-init-1.36.yaml",
      kubeadmInitConfig({
        nodeName: "cp1",
        nodeIP: "198.18.0.11",
        advertiseAddress: "198.18.0.11",
        kubernetesVersion: "1.36",
        controlPlaneEndpoint: "198.18.0.100:6443",
        podSubnet: "10.244.0.0/16",
        serviceSubnet: "10.96.0.0/12",
        certSANs: ["198.18.0.100", "cp1", "198.18.0.11", "198.18.0.100"],
        clusterName: "lab",
        bootstrapToken: TOKEN,
        certificateKey: CERT_KEY,
      }),
    );
  });
  it("init config (patch, schedulable control plane, offline registry)", () => {
    golden(
      "kubeadm-init-1.36.2.yaml",
      kubeadmInitConfig({
        nodeName: "solo",
        nodeIP: "198.18.0.21",
        advertiseAddress: "198.18.0.21",
        kubernetesVersion: "1.36.2",
        controlPlaneEndpoint: "198.18.0.21:6443",
        podSubnet: "192.168.0.0/16",
        serviceSubnet: "10.96.0.0/12",
        taints: [],
        imageRepository: "198.18.0.1:5000/k8s",
      }),
    );
  });
  it("join config, worker", () => {
    golden(
      "kubeadm-join-worker.yaml",
      kubeadmJoinConfig({
        kind: "worker",
        nodeName: "w1",
        nodeIP: "198.18.0.31",
        apiServerEndpoint: "198.18.0.100:6443",
        token: TOKEN,
        caCertHashes: [CA_HASH],
        taints: [{ key: "dedicated", value: "edge", effect: "NoSchedule" }],
      }),
    );
  });
  it("join config, control plane", () => {
    golden(
      "kubeadm-join-control-plane.yaml",
      kubeadmJoinConfig({
        kind: "control-plane",
        nodeName: "cp2",
        nodeIP: "198.18.0.12",
        advertiseAddress: "198.18.0.12",
        apiServerEndpoint: "198.18.0.100:6443",
        token: TOKEN,
        caCertHashes: [CA_HASH],
        certificateKey: CERT_KEY,
      }),
    );
  });
  it("join guards", () => {
    golden("join-guards.txt", `worker: ${joinGuardProbe("worker")}\ncontrol-plane: ${joinGuardProbe("control-plane")}\n`);
  });
});

describe("golden: keepalived", () => {
  it("config", () => {
    golden("keepalived.conf", controlPlaneKeepalivedConfig(KEEPALIVED));
  });
  it("config with nopreempt and custom weight", () => {
    golden("keepalived-nopreempt.conf", controlPlaneKeepalivedConfig({ ...KEEPALIVED, nopreempt: true, weight: -30, priority: 100 }));
  });
  it("config on VRRPv2 with PASS authentication and a whole-second interval", () => {
    golden("keepalived-v2.conf", controlPlaneKeepalivedConfig({ ...KEEPALIVED_V2, advertInt: 2 }));
  });
  it("config with multicast adverts and a 0.05 s interval", () => {
    golden("keepalived-multicast.conf", controlPlaneKeepalivedConfig({ ...KEEPALIVED, unicast: false, advertInt: 0.05 }));
  });
  it("health check script", () => {
    golden("check_apiserver.sh", apiserverHealthCheckScript());
  });
  it("steps (apt)", () => {
    golden("keepalived-steps-apt.txt", renderSteps(keepalivedSteps({ ...KEEPALIVED, packageManager: "apt" })));
  });
});

describe("golden: reset", () => {
  it("reset steps with keepalived removal", () => {
    golden("reset-steps.txt", renderSteps(resetSteps({ keepalived: true })));
  });
  it("reset steps with keepalived package purge (dnf)", () => {
    golden("reset-steps-purge-dnf.txt", renderSteps(resetSteps({ keepalived: { purgePackage: "dnf" } })));
  });
});
