import { describe, expect, it } from "vitest";
import { etcdctlCommand, memberOf, parseMemberList } from "../../src/cluster/etcd.js";

// etcdctl member list, simple format (etcdctl/ctlv3/command/printer_simple.go)
const LIST = `8e9e05c52164694d, started, cp1, https://10.0.0.11:2380, https://10.0.0.11:2379, false
91bc3c398fb3c146, started, cp2, https://10.0.0.12:2380, https://10.0.0.12:2379, false
fd422379fda50e48, unstarted, , https://10.0.0.13:2380, , false
`;

describe("etcd members", () => {
  it("parses the simple list, unnamed (unstarted) members too", () => {
    const m = parseMemberList(LIST);
    expect(m.map((x) => [x.id, x.name])).toEqual([["8e9e05c52164694d", "cp1"], ["91bc3c398fb3c146", "cp2"], ["fd422379fda50e48", ""]]);
  });
  it("finds a host's member by name or by peer URL, and nothing for a host never a member", () => {
    const m = parseMemberList(LIST);
    expect(memberOf(m, { name: "cp1", nodeIP: "10.0.0.99" })?.id).toBe("8e9e05c52164694d");
    expect(memberOf(m, { name: "renamed", nodeIP: "10.0.0.13" })?.id).toBe("fd422379fda50e48");
    expect(memberOf(m, { name: "cp4", nodeIP: "10.0.0.14" })).toBeUndefined();
  });
  it("runs etcdctl in the running etcd container with kubeadm's health-check client certificate, arguments quoted", () => {
    const c = etcdctlCommand(["member", "remove", "8e9e05c52164694d"]);
    expect(c).toContain("crictl ps -q --name '^etcd$' --state running");
    expect(c).toContain("--cert /etc/kubernetes/pki/etcd/healthcheck-client.crt");
    expect(c).toMatch(/'member' 'remove' '8e9e05c52164694d'$/);
  });
});
