// Hostile inventories: each is refused by the loader with one line per problem, naming the file, line,
// column and the exact field, without echoing control characters or huge values, and without a stack
// trace. A few run through the built CLI (`kubesmith inventory validate`): exit code 3.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatIssue } from "../../src/errors.js";
import { MAX_DEPTH } from "../../src/inventory/load.js";
import { kubesmith } from "../helpers/cli.js";
import { FILE, inventory, issuesOf, load } from "./helpers.js";

const cp = (extra: string) => `  - { name: cp1, address: 192.168.1.10, roles: [control-plane]${extra} }`;
const edge = (iface: string) => inventory({ cluster: `  edgeVIP: { vip: 192.168.1.50, interface: ${iface} }` });
const cpVip = (iface: string) =>
  inventory({
    cluster: `  controlPlaneEndpoint: { vip: 192.168.1.50, interface: ${iface} }`,
    hosts: [cp(""), "  - { name: cp2, address: 192.168.1.11, roles: [control-plane] }", "  - { name: cp3, address: 192.168.1.12, roles: [control-plane] }"].join("\n"),
  });
const INJECTION = JSON.stringify('eth0\n}\nvrrp_script pwn {\n script "/bin/touch /tmp/pwned"\n');

interface Case {
  name: string;
  text: string;
  /** The field every issue names (one issue, unless `count`). */
  path: string;
  message: RegExp;
  count?: number;
}

const CASES: Case[] = [
  // 1. interface names (Linux dev_valid_name, and what keepalived.conf can carry)
  { name: "edge interface with a keepalived injection", text: edge(INJECTION), path: "cluster.edgeVIP.interface", message: /control character \\n/ },
  { name: "control-plane interface with a keepalived injection", text: cpVip(INJECTION), path: "cluster.controlPlaneEndpoint.interface", message: /control character \\n/ },
  { name: "interface longer than 15 bytes", text: edge("abcdefghijklmnop"), path: "cluster.edgeVIP.interface", message: /16 bytes long; Linux interface names have at most 15/ },
  { name: "interface '.'", text: edge('"."'), path: "cluster.edgeVIP.interface", message: /"\." is not a valid Linux interface name/ },
  { name: "interface '..'", text: cpVip('".."'), path: "cluster.controlPlaneEndpoint.interface", message: /"\.\." is not a valid Linux interface name/ },
  { name: "interface with a space", text: edge('"eth 0"'), path: "cluster.edgeVIP.interface", message: /whitespace, '\/' or ':'/ },
  { name: "interface with a slash", text: edge("eth/0"), path: "cluster.edgeVIP.interface", message: /whitespace, '\/' or ':'/ },
  { name: "interface alias with a colon", text: edge('"eth0:1"'), path: "cluster.edgeVIP.interface", message: /whitespace, '\/' or ':'/ },
  { name: "interface with a brace", text: edge('"eth0}"'), path: "cluster.edgeVIP.interface", message: /letters, digits and _ \. @ - only/ },
  { name: "interface with a quote", text: edge(`'eth0"'`), path: "cluster.edgeVIP.interface", message: /letters, digits and _ \. @ - only/ },
  { name: "empty interface", text: edge('""'), path: "cluster.edgeVIP.interface", message: /must not be empty/ },
  // 3. addresses, VIPs and CIDRs
  { name: "VIP = broadcast of its /24", text: edge("eth0").replace("192.168.1.50", "192.168.1.255"), path: "cluster.edgeVIP.vip", message: /broadcast address of its \/24 subnet 192\.168\.1\.0\/24/ },
  {
    name: "VIP = network of its /16",
    text: inventory({ cluster: "  edgeVIP: { vip: 192.168.0.0, interface: eth0, prefix: 16 }" }),
    path: "cluster.edgeVIP.vip",
    message: /network address of its \/16 subnet 192\.168\.0\.0\/16/,
  },
  {
    name: "control-plane VIP = network address",
    text: cpVip("eth0").replace("192.168.1.50", "192.168.1.0"),
    path: "cluster.controlPlaneEndpoint.vip",
    message: /network address of its \/24 subnet/,
  },
  { name: "host 255.255.255.255", text: inventory({ hosts: "  - { name: cp1, address: 255.255.255.255, roles: [control-plane] }" }), path: "hosts[0].address", message: /limited broadcast/ },
  { name: "host 0.0.0.0", text: inventory({ hosts: "  - { name: cp1, address: 0.0.0.0, roles: [control-plane] }" }), path: "hosts[0].address", message: /this network/ },
  { name: "host multicast", text: inventory({ hosts: "  - { name: cp1, address: 239.1.2.3, roles: [control-plane] }" }), path: "hosts[0].address", message: /multicast/ },
  {
    name: "internalAddress multicast",
    text: inventory({ hosts: "  - { name: cp1, address: cp1.example.com, internalAddress: 224.0.0.1, roles: [control-plane] }" }),
    path: "hosts[0].internalAddress",
    message: /multicast/,
  },
  { name: "serviceCIDR /32", text: inventory({ cluster: "  serviceCIDR: 10.96.0.0/32" }), path: "cluster.serviceCIDR", message: /10\.96\.0\.0\/32 is too small: kubesmith needs at least a \/24/ },
  { name: "serviceCIDR /8", text: inventory({ cluster: "  serviceCIDR: 172.0.0.0/8" }), path: "cluster.serviceCIDR", message: /too large: kube-apiserver takes at most a \/12/ },
  { name: "podCIDR with host bits", text: inventory({ cluster: "  podCIDR: 10.244.0.1/16" }), path: "cluster.podCIDR", message: /host bits set.*10\.244\.0\.0\/16/ },
  { name: "serviceCIDR with host bits", text: inventory({ cluster: "  serviceCIDR: 10.96.0.5/12" }), path: "cluster.serviceCIDR", message: /host bits set.*10\.96\.0\.0\/12/ },
  // 3. labels and taints (Kubernetes qualified names)
  { name: "taint key with a space", text: inventory({ hosts: cp(", taints: [{ key: 'a b', effect: NoSchedule }]") }), path: "hosts[0].taints[0].key", message: /"a b" must be letters, digits/ },
  { name: "taint key with an emoji", text: inventory({ hosts: cp(", taints: [{ key: 'gpu🔥', effect: NoSchedule }]") }), path: "hosts[0].taints[0].key", message: /must be letters, digits/ },
  {
    name: "taint key with U+202E",
    text: inventory({ hosts: cp(", taints: [{ key: \"ab\\u202Ecd\", effect: NoSchedule }]") }),
    path: "hosts[0].taints[0].key",
    message: /control character \\u202e/,
  },
  { name: "taint value with a space", text: inventory({ hosts: cp(", taints: [{ key: a, value: 'x y', effect: NoSchedule }]") }), path: "hosts[0].taints[0].value", message: /must be empty or letters/ },
  { name: "taint effect not in the enum", text: inventory({ hosts: cp(", taints: [{ key: a, effect: NoRun }]") }), path: "hosts[0].taints[0].effect", message: /must be one of NoSchedule, PreferNoSchedule, NoExecute \(got "NoRun"\)/ },
  { name: "taint effect missing", text: inventory({ hosts: cp(", taints: [{ key: a }]") }), path: "hosts[0].taints[0].effect", message: /^missing required field 'effect'/ },
  { name: "label key with an emoji", text: inventory({ hosts: cp(", labels: { 'tier🔥': x }") }), path: 'hosts[0].labels["tier🔥"]', message: /must be letters, digits/ },
  { name: "label key with a long name", text: inventory({ hosts: cp(`, labels: { ${"a".repeat(64)}: x }`) }), path: `hosts[0].labels.${"a".repeat(64)}`, message: /64 characters; at most 63/ },
  { name: "label key with a bad prefix", text: inventory({ hosts: cp(", labels: { 'Example.com/x': y }") }), path: 'hosts[0].labels["Example.com/x"]', message: /prefix .* must be a DNS subdomain/ },
  { name: "label value too long", text: inventory({ hosts: cp(`, labels: { tier: ${"v".repeat(64)} }`) }), path: "hosts[0].labels.tier", message: /64 characters; a label value has at most 63/ },
  // 3. control characters anywhere
  { name: "SSH user with a newline", text: inventory({ hosts: cp(', user: "root\\nid"') }), path: "hosts[0].user", message: /control character \\n/ },
  { name: "ssh.user with ESC", text: inventory({ top: 'ssh: { user: "a\\x1bb" }' }), path: "ssh.user", message: /control character \\x1b/ },
  { name: "identityFile with NUL", text: inventory({ top: 'ssh: { identityFile: "/k\\0ey" }' }), path: "ssh.identityFile", message: /control character \\x00/ },
  { name: "imageRepository with a CR", text: inventory({ top: 'offline: { imageRepository: "reg\\r.example" }' }), path: "offline.imageRepository", message: /control character \\r/ },
  { name: "unknown key with ESC", text: inventory({ top: 'ssh: { "us\\x1ber": x }' }), path: 'ssh["us\\u001ber"]', message: /the key 'us\\x1ber' contains the control character \\x1b/ },
  // 4. error output
  { name: "a field missing", text: inventory({ hosts: "  - { name: cp1, roles: [control-plane] }" }), path: "hosts[0].address", message: /^missing required field 'address'$/ },
  {
    name: "a 100,000-byte value",
    text: edge("a".repeat(100_000)),
    path: "cluster.edgeVIP.interface",
    message: /^"a{80}…" \(100000 characters\) is 100000 bytes long/,
  },
  {
    name: "raw ESC in a value",
    text: inventory({ cluster: `  edgeVIP: { vip: 192.168.1.50, interface: "\u001b[31meth0" }` }),
    path: "cluster.edgeVIP.interface",
    message: /control character \\x1b/,
  },
  {
    name: "raw ESC in an unknown value of an enum",
    text: inventory({ hosts: `  - { name: cp1, address: 192.168.1.10, roles: ["\u001b]0;pwned\u0007"] }` }),
    path: "hosts[0].roles[0]",
    message: /control character \\x1b/,
  },
  { name: "a deeply nested list", text: inventory({ top: `x: ${"[".repeat(5000)}${"]".repeat(5000)}` }), path: "", message: /too deeply nested/ },
  { name: "a deeply nested flow map", text: `cluster: ${"{a: ".repeat(1000)}1${"}".repeat(1000)}\n`, path: "", message: /too deeply nested/ },
  { name: "nested just past the limit", text: inventory({ top: `x: ${"[".repeat(MAX_DEPTH)}${"]".repeat(MAX_DEPTH)}` }), path: "", message: /too deeply nested/ },
];

describe("hostile inventories", () => {
  it.each(CASES)("$name: refused, one line naming the field", (c) => {
    const issues = issuesOf(c.text);
    expect(issues, JSON.stringify(issues, null, 1).slice(0, 2000)).toHaveLength(c.count ?? 1);
    for (const i of issues) {
      expect(i.path).toBe(c.path);
      expect(i.message).toMatch(c.message);
      expect(i.file).toBe(FILE);
      expect(i.line).toBeGreaterThan(0);
      expect(i.column).toBeGreaterThan(0);
      const line = formatIssue(i);
      // No raw control characters, no stack frames, nothing huge.
      expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
      expect(line).not.toMatch(/\n\s+at |call stack/i);
      expect(line.length).toBeLessThan(500);
    }
  });

  it("the too-deep message names the line of the nesting", () => {
    const text = inventory({ top: `x: ${"[".repeat(5000)}${"]".repeat(5000)}` });
    const [i] = issuesOf(text);
    expect(i!.line).toBe(text.split("\n").findIndex((l) => l.startsWith("x: ")) + 1);
  });

  it("still accepts what is valid near those limits", () => {
    const ok = inventory({
      cluster: ["  edgeVIP: { vip: 192.168.1.254, interface: bond0.100 }", "  serviceCIDR: 10.96.0.0/24", "  podCIDR: 10.244.0.0/16"].join("\n"),
      hosts: cp(", labels: { example.com/tier: web, plain: '' }, taints: [{ key: node.example.com/gpu, value: a-b_c.d, effect: NoSchedule }]"),
      top: `addons: { hello: { values: { deep: ${"[".repeat(40)}${"]".repeat(40)} } } }`,
    });
    expect(() => load(ok)).not.toThrow();
    // In a /30 (network .8, broadcast .11) the two addresses between are usable.
    expect(() => load(inventory({ cluster: "  edgeVIP: { vip: 192.168.1.9, interface: eth0, prefix: 30 }" }))).not.toThrow();
  });
});

describe("hostile inventories through `kubesmith inventory validate`", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "kubesmith-hostile-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cli = CASES.filter((c) =>
    ["edge interface with a keepalived injection", "a 100,000-byte value", "raw ESC in a value", "a deeply nested list", "taint key with U+202E", "a field missing"].includes(c.name),
  );
  it.each(cli)("$name: exit 3, one line, no stack trace", async (c) => {
    const file = join(dir, `${c.name.replace(/\W+/g, "-")}.yaml`);
    await writeFile(file, c.text);
    const r = await kubesmith(["inventory", "validate", "-i", file]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^kubesmith: ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: `));
    if (c.path) expect(lines[0]).toContain(` ${c.path}: `);
    expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(r.stderr).not.toMatch(/\n\s+at |call stack|internal error/i);
    expect(r.stderr.length).toBeLessThan(600);
  });
});
