import { describe, expect, it } from "vitest";
import { formatIssue } from "../../src/errors.js";
import { hostsByRole, parseInventory } from "../../src/inventory/index.js";
import { at, inventory, issuesOf, load, onlyIssue } from "./helpers.js";

const cp = (name: string, ip: string, extra = "") => `  - { name: ${name}, address: ${ip}, roles: [control-plane]${extra} }`;
const wk = (name: string, ip: string, roles = "worker", extra = "") => `  - { name: ${name}, address: ${ip}, roles: [${roles}]${extra} }`;
const hosts = (...lines: string[]) => lines.join("\n");

describe("kubernetesVersion", () => {
  it("refuses a minor kubesmith does not install, at its line, naming the supported ones", () => {
    for (const v of ["1.33", "1.34.2", "1.37"]) {
      const text = inventory().replace('kubernetesVersion: "1.36"', `kubernetesVersion: "${v}"`);
      const issue = onlyIssue(issuesOf(text), "cluster.kubernetesVersion");
      expect(issue).toMatchObject({ ...at(text, `"${v}"`), message: `Kubernetes ${v} is not supported; kubesmith installs 1.35 and 1.36` });
      expect(issue.hint).toContain('kubernetesVersion: "1.36"');
    }
  });
  it("accepts the supported minors and their patches", () => {
    for (const v of ["1.35", "1.35.4", "1.36", "1.36.0"]) {
      expect(load(inventory().replace('kubernetesVersion: "1.36"', `kubernetesVersion: "${v}"`)).inventory.cluster.kubernetesVersion).toBe(v);
    }
  });
});

describe("roles", () => {
  it("needs at least one control plane", () => {
    const text = inventory({ hosts: hosts(wk("w1", "192.168.1.20"), wk("w2", "192.168.1.21")) });
    const issue = onlyIssue(issuesOf(text), "hosts");
    expect(issue).toMatchObject({ ...at(text, "- { name: w1"), message: "no host has the control-plane role" });
    expect(issue.hint).toBe("add control-plane to the roles of one host (or of three, for high availability)");
  });

  it("warns (only) about an even number of control planes", () => {
    const text = inventory({
      cluster: "  controlPlaneEndpoint: { vip: 192.168.1.100, interface: eth0 }",
      hosts: hosts(cp("cp1", "192.168.1.10"), cp("cp2", "192.168.1.11"), wk("w1", "192.168.1.20")),
    });
    const { warnings } = load(text);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      path: "hosts",
      ...at(text, "- { name: cp1"),
      message: "2 control planes: etcd needs a majority, so 2 survive no more failures than 1",
      hint: "use an odd number of control planes (1, 3 or 5)",
    });
    // Three are fine.
    const three = inventory({
      cluster: "  controlPlaneEndpoint: { vip: 192.168.1.100, interface: eth0 }",
      hosts: hosts(cp("cp1", "192.168.1.10"), cp("cp2", "192.168.1.11"), cp("cp3", "192.168.1.12")),
    });
    expect(load(three).warnings).toEqual([]);
  });

  it("requires controlPlaneEndpoint with more than one control plane", () => {
    const text = inventory({ hosts: hosts(cp("cp1", "192.168.1.10"), cp("cp2", "192.168.1.11"), cp("cp3", "192.168.1.12")) });
    const issue = onlyIssue(issuesOf(text), "cluster.controlPlaneEndpoint");
    expect(issue).toMatchObject({ ...at(text, "name: test"), message: "missing controlPlaneEndpoint: 3 control planes need one shared API address" });
    const lb = inventory({
      cluster: "  controlPlaneEndpoint: { loadBalancer: 'api.example.com:6443' }",
      hosts: hosts(cp("cp1", "192.168.1.10"), cp("cp2", "192.168.1.11"), cp("cp3", "192.168.1.12")),
    });
    expect(load(lb).inventory.cluster.controlPlaneEndpoint).toEqual({ loadBalancer: "api.example.com:6443" });
  });

  it("accepts a frontend host without the worker role and counts it as a worker", () => {
    const text = inventory({
      hosts: hosts(cp("cp1", "192.168.1.10"), wk("f1", "192.168.1.30", "frontend"), wk("w1", "192.168.1.20")),
      top: "addons: { traefik: { enabled: true } }",
    });
    const inv = load(text).inventory;
    expect(hostsByRole(inv, "worker").map((h) => h.name)).toEqual(["f1", "w1"]);
    expect(hostsByRole(inv, "frontend").map((h) => h.name)).toEqual(["f1"]);
    expect(hostsByRole(inv, "control-plane").map((h) => h.name)).toEqual(["cp1"]);
  });
});

describe("names and addresses", () => {
  it("refuses a duplicate host name, naming both entries", () => {
    const text = inventory({ hosts: hosts(cp("cp1", "192.168.1.10"), wk("cp1", "192.168.1.20")) });
    const issue = onlyIssue(issuesOf(text), "hosts[1].name");
    expect(formatIssue(issue)).toBe(
      `inv.yaml:${at(text, "cp1", 1).line}:${at(text, "cp1", 1).column}: hosts[1].name: host name 'cp1' is already used by hosts[0] (line ${at(text, "cp1").line}) (node names must be unique)`,
    );
  });

  it("refuses a duplicate address, also across address and internalAddress", () => {
    const text = inventory({
      hosts: hosts(
        cp("cp1", "192.168.1.10", ", internalAddress: 10.0.0.10"),
        wk("w1", "192.168.1.10"),
        wk("w2", "192.168.1.22", "worker", ", internalAddress: 10.0.0.10"),
      ),
    });
    const issues = issuesOf(text);
    expect(onlyIssue(issues, "hosts[1].address")).toMatchObject({
      ...at(text, "192.168.1.10", 1),
      message: `address 192.168.1.10 is already used by cp1 (hosts[0].address, line ${at(text, "cp1").line})`,
      hint: "each host needs its own address",
    });
    expect(onlyIssue(issues, "hosts[2].internalAddress")).toMatchObject({
      ...at(text, "10.0.0.10", 1),
      message: `address 10.0.0.10 is already used by cp1 (hosts[0].internalAddress, line ${at(text, "cp1").line})`,
    });
  });

  it("requires addresses to be IPv4 addresses or DNS names", () => {
    const text = inventory({
      hosts: hosts(cp("cp1", "192.168.1.300"), wk("w1", "'node one.example.com'"), wk("w2", "node-2.example.com")),
      top: "ssh: { bastion: { address: 'jump_host' } }",
    });
    const issues = issuesOf(text);
    expect(issues.map((i) => i.path)).toEqual(["hosts[0].address", "hosts[1].address", "ssh.bastion.address"]);
    expect(issues[0]).toMatchObject({ ...at(text, "192.168.1.300"), message: 'must be an IPv4 address or a DNS name (got "192.168.1.300")' });
    expect(issues[1]).toMatchObject({ ...at(text, "'node one"), message: 'must be an IPv4 address or a DNS name (got "node one.example.com")' });
    expect(issues[2]).toMatchObject(at(text, "'jump_host'"));
  });

  it("checks a load balancer's host:port", () => {
    const text = inventory({ cluster: "  controlPlaneEndpoint: { loadBalancer: 'lb:99999' }" });
    expect(onlyIssue(issuesOf(text), "cluster.controlPlaneEndpoint.loadBalancer")).toMatchObject({
      ...at(text, "'lb:99999'"),
      message: 'must be host or host:port with an IPv4 address or DNS name (got "lb:99999")',
    });
  });
});

describe("VIPs", () => {
  const ha = (vip: string, extra = "") =>
    inventory({
      cluster: `  controlPlaneEndpoint: { vip: ${vip}, interface: eth0${extra} }`,
      hosts: hosts(cp("cp1", "192.168.1.10"), cp("cp2", "192.168.1.11"), cp("cp3", "192.168.1.12")),
    });

  it("refuses a VIP that is a host's address", () => {
    const text = ha("192.168.1.11");
    expect(onlyIssue(issuesOf(text), "cluster.controlPlaneEndpoint.vip")).toMatchObject({
      ...at(text, "192.168.1.11"),
      message: "192.168.1.11 is the address of host cp2 (hosts[1].address)",
      hint: "a VIP must be a free address that no host owns; keepalived moves it between hosts",
    });
  });

  it("refuses a VIP outside the hosts' /24, unless prefix says the network is larger", () => {
    const text = ha("192.168.2.50");
    expect(onlyIssue(issuesOf(text), "cluster.controlPlaneEndpoint.vip")).toMatchObject({
      ...at(text, "192.168.2.50"),
      message: "192.168.2.50 is outside the /24 network of control planes cp1 (192.168.1.10), cp2 (192.168.1.11), cp3 (192.168.1.12)",
      hint: "keepalived can only move a VIP within the hosts' own network: choose a free address in 192.168.1.0/24, or set prefix: to the network's real prefix length",
    });
    expect(load(ha("192.168.2.50", ", prefix: 16")).inventory.cluster.controlPlaneEndpoint).toMatchObject({ prefix: 16 });
    expect(load(ha("192.168.1.200")).warnings).toEqual([]);
  });

  it("uses internalAddress for the network check", () => {
    const text = inventory({
      cluster: "  controlPlaneEndpoint: { vip: 10.0.0.100, interface: eth1 }",
      hosts: hosts(
        cp("cp1", "203.0.113.10", ", internalAddress: 10.0.0.10"),
        cp("cp2", "cp2.example.com", ", internalAddress: 10.0.0.11"),
        cp("cp3", "cp3.example.com"),
      ),
    });
    const { warnings } = load(text);
    expect(warnings.map((w) => w.message)).toContain(
      "cannot check that 10.0.0.100 is in the network of control plane cp3: its address is a DNS name",
    );
  });

  it("checks the edge VIP against the frontends, and needs it for keepalived-edge", () => {
    const base = (edge: string) =>
      inventory({
        cluster: edge,
        hosts: hosts(cp("cp1", "192.168.1.10"), wk("f1", "192.168.5.30", "worker, frontend"), wk("f2", "192.168.5.31", "frontend")),
        top: "addons:\n  keepalived-edge: { enabled: true }",
      });
    const outside = base("  edgeVIP: { vip: 192.168.1.100, interface: eth0 }");
    expect(onlyIssue(issuesOf(outside), "cluster.edgeVIP.vip")).toMatchObject({
      ...at(outside, "192.168.1.100"),
      message: "192.168.1.100 is outside the /24 network of frontends f1 (192.168.5.30), f2 (192.168.5.31)",
    });
    const missing = base("");
    expect(onlyIssue(issuesOf(missing), "addons.keepalived-edge")).toMatchObject({
      ...at(missing, "{ enabled: true }"),
      message: "add-on keepalived-edge needs cluster.edgeVIP",
    });
    expect(load(base("  edgeVIP: { vip: 192.168.5.100, interface: eth0 }")).warnings).toEqual([]);
  });

  it("refuses the same address for both VIPs and warns about an unused edge VIP", () => {
    const text = inventory({
      cluster: "  controlPlaneEndpoint: { vip: 192.168.1.100, interface: eth0 }\n  edgeVIP: { vip: 192.168.1.100, interface: eth0 }",
      hosts: hosts(cp("cp1", "192.168.1.10"), wk("f1", "192.168.1.30", "frontend")),
    });
    expect(onlyIssue(issuesOf(text), "cluster.edgeVIP.vip")).toMatchObject({
      ...at(text, "192.168.1.100", 1),
      message: "192.168.1.100 is also the control-plane VIP",
    });
    const unused = inventory({
      cluster: "  edgeVIP: { vip: 192.168.1.100, interface: eth0 }",
      hosts: hosts(cp("cp1", "192.168.1.10"), wk("f1", "192.168.1.30", "frontend")),
    });
    expect(onlyIssue(load(unused).warnings, "cluster.edgeVIP")).toMatchObject({
      ...at(unused, "{ vip"),
      message: "edgeVIP is set but the keepalived-edge add-on is not enabled, so nothing will hold it",
    });
  });
});

describe("CIDRs", () => {
  it("refuses a pod CIDR that contains the LAN (Calico vs LAN) and suggests a free range", () => {
    const text = inventory({ cluster: "  podCIDR: 192.168.0.0/16", hosts: hosts(cp("cp1", "192.168.1.10")) });
    const issue = onlyIssue(issuesOf(text), "cluster.podCIDR");
    expect(formatIssue(issue)).toBe(
      `inv.yaml:${at(text, "192.168.0.0/16").line}:${at(text, "192.168.0.0/16").column}: cluster.podCIDR: podCIDR 192.168.0.0/16 contains host cp1 (192.168.1.10): Calico would route the LAN into the pod network; choose e.g. 10.244.0.0/16`,
    );
  });

  it("lists every clashing host and skips suggestions that clash too", () => {
    const text = inventory({
      cluster: "  podCIDR: 10.244.0.0/16",
      hosts: hosts(cp("cp1", "10.244.1.10"), wk("w1", "10.244.1.11"), wk("w2", "10.42.0.5")),
    });
    expect(onlyIssue(issuesOf(text), "cluster.podCIDR").message).toBe(
      "podCIDR 10.244.0.0/16 contains hosts cp1 (10.244.1.10), w1 (10.244.1.11): Calico would route the LAN into the pod network; choose e.g. 172.20.0.0/16",
    );
  });

  it("refuses a service CIDR containing a host or a VIP", () => {
    const text = inventory({
      cluster: "  serviceCIDR: 10.96.0.0/12\n  controlPlaneEndpoint: { vip: 10.100.0.100, interface: eth0 }",
      hosts: hosts(cp("cp1", "10.100.0.10"), cp("cp2", "10.100.0.11"), cp("cp3", "10.100.0.12")),
    });
    const issue = onlyIssue(issuesOf(text), "cluster.serviceCIDR");
    expect(issue).toMatchObject(at(text, "10.96.0.0/12"));
    expect(issue.message).toBe(
      "serviceCIDR 10.96.0.0/12 contains hosts cp1 (10.100.0.10), cp2 (10.100.0.11), cp3 (10.100.0.12), the control-plane VIP (10.100.0.100): kube-proxy would capture that traffic as Service traffic; choose e.g. 10.112.0.0/12",
    );
  });

  it("checks the default CIDRs too, pointing at cluster:", () => {
    const text = inventory({ hosts: hosts(cp("cp1", "10.96.5.5")) });
    expect(onlyIssue(issuesOf(text), "cluster.serviceCIDR")).toMatchObject({ ...at(text, "name: test") });
  });

  it("refuses overlapping pod and service CIDRs", () => {
    const text = inventory({ cluster: "  podCIDR: 10.96.0.0/16\n  serviceCIDR: 10.96.0.0/12" });
    expect(onlyIssue(issuesOf(text), "cluster.podCIDR")).toMatchObject({
      ...at(text, "10.96.0.0/16"),
      message: "podCIDR 10.96.0.0/16 overlaps serviceCIDR 10.96.0.0/12: pods and Services would get the same addresses; choose e.g. 10.244.0.0/16",
    });
  });
});

describe("add-ons", () => {
  it("needs frontend hosts for an enabled edge add-on", () => {
    const text = inventory({ top: "addons:\n  traefik: {}\n  keepalived-edge: { enabled: false }" });
    const issue = onlyIssue(issuesOf(text), "addons.traefik");
    expect(issue).toMatchObject({
      ...at(text, "{}"),
      message: "add-on traefik needs at least one host with the frontend role",
      hint: "add frontend to the roles of a host, or set addons.traefik.enabled: false",
    });
    expect(load(inventory({ top: "addons:\n  traefik: { enabled: false }" })).inventory.addons?.traefik?.enabled).toBe(false);
  });
});

describe("secrets", () => {
  it("refuses literal secrets at every level, without echoing them", () => {
    const text = inventory({
      top: "ssh:\n  password: hunter2\n  bastion: { address: jump.example.com, passphrase: 'pp1' }",
      hosts: hosts(
        cp("cp1", "192.168.1.10", ", user: ops, sudo: { password: 'sudo-pw' }"),
        wk("w1", "192.168.1.20", "worker", ", ssh: { passphrase: '${KEY_PP}', bastion: { address: jump2, password: literal2 } }"),
      ),
    });
    const issues = issuesOf(text, { KEY_PP: "from-env" });
    expect(issues.map((i) => i.path)).toEqual([
      "hosts[0].sudo.password",
      "hosts[1].ssh.bastion.password",
      "ssh.password",
      "ssh.bastion.passphrase",
    ]);
    expect(issues[0]).toMatchObject({
      ...at(text, "'sudo-pw'"),
      message: "a secret must not be written in the inventory",
      hint: "write it as ${SUDO_PASSWORD} and export it; secrets are never stored in the inventory",
    });
    expect(issues[2]).toMatchObject({ ...at(text, "hunter2"), hint: "write it as ${SSH_PASSWORD} and export it; secrets are never stored in the inventory" });
    expect(issues[3]?.hint).toMatch(/^write it as \$\{BASTION_KEY_PASSPHRASE\}/);
    const all = JSON.stringify(issues);
    for (const s of ["hunter2", "pp1", "sudo-pw", "literal2"]) expect(all).not.toContain(s);
  });

  it("accepts secrets from ${VAR} and lists them for redaction; a partly literal secret is refused", () => {
    const ok = load(
      inventory({ top: "ssh: { password: '${SSH_PW}' }", hosts: cp("cp1", "192.168.1.10", ", sudo: { password: '${SUDO_PW}' }") }),
      { SSH_PW: "pw-one", SUDO_PW: "pw-two" },
    );
    expect(ok.inventory.ssh?.password).toBe("pw-one");
    expect(ok.secrets.sort()).toEqual(["pw-one", "pw-two"]);
    const partly = inventory({ top: "ssh: { password: 'abc${SSH_PW}' }" });
    expect(onlyIssue(issuesOf(partly, { SSH_PW: "x" }), "ssh.password").message).toBe("a secret must not be written in the inventory");
  });

  it("follows an anchored secret to where it is used", () => {
    const text = [
      "cluster: { name: test, kubernetesVersion: '1.36' }",
      "ssh: { password: &pw '${SSH_PW}' }",
      "hosts:",
      cp("cp1", "192.168.1.10", ", ssh: { password: *pw }"),
      cp("cp2", "192.168.1.11", ", ssh: { passphrase: &pp literal }"),
      cp("cp3", "192.168.1.12", ", sudo: { password: *pp }"),
      "",
    ].join("\n");
    const issues = issuesOf(text, { SSH_PW: "x" });
    // The literal is reported where it is written (line 5) for both uses; the ${VAR} one is accepted.
    expect(issues.map((i) => [i.path, i.line])).toEqual([
      ["cluster.controlPlaneEndpoint", 1],
      ["hosts[1].ssh.passphrase", 5],
      ["hosts[2].sudo.password", 5],
    ]);
  });
});

describe("ssh and sudo", () => {
  it("warns when host keys are not checked", () => {
    const text = inventory({ top: "ssh: { hostKeyPolicy: 'off' }" });
    expect(onlyIssue(load(text).warnings, "ssh.hostKeyPolicy")).toMatchObject({
      ...at(text, "'off'"),
      message: "host keys are not checked: anyone on the network path can impersonate a host and receive its credentials",
    });
  });

  it("refuses sudo: false for a non-root user, and conflicting user/port settings", () => {
    const text = inventory({
      top: "ssh: { user: debian }",
      hosts: hosts(cp("cp1", "192.168.1.10", ", sudo: false"), wk("w1", "192.168.1.20", "worker", ", user: a, port: 22, ssh: { user: b, port: 2222 }")),
    });
    const issues = issuesOf(text);
    expect(onlyIssue(issues, "hosts[0].sudo")).toMatchObject({ ...at(text, "false"), message: 'user "debian" cannot become root with sudo: false' });
    expect(onlyIssue(issues, "hosts[1].ssh.user").message).toBe('conflicts with hosts[1].user ("a")');
    expect(onlyIssue(issues, "hosts[1].ssh.port").message).toBe("conflicts with hosts[1].port (22)");
    expect(load(inventory({ hosts: cp("cp1", "192.168.1.10", ", sudo: false") })).inventory.hosts[0]?.sudo).toBe(false);
  });
});

describe("keepalived on one host", () => {
  it("refuses a control plane behind the VIP that is also an edge frontend", () => {
    const text = [
      "cluster:",
      "  name: c",
      '  kubernetesVersion: "1.36"',
      "  controlPlaneEndpoint: { vip: 198.18.0.2, interface: eth0 }",
      "  edgeVIP: { vip: 198.18.0.3, interface: eth0 }",
      "hosts:",
      "  - { name: cp1, address: 198.18.0.11, roles: [control-plane, frontend] }",
      "  - { name: cp2, address: 198.18.0.12, roles: [control-plane] }",
      "  - { name: cp3, address: 198.18.0.13, roles: [control-plane] }",
      "addons:",
      "  keepalived-edge: { enabled: true }",
      "",
    ].join("\n");
    expect(() => parseInventory(text, "inv.yaml", {})).toThrow(/hosts\[0\]\.roles: host cp1 is a control plane behind the keepalived VIP and a frontend/);
  });
});
