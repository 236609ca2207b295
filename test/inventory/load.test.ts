import { mkdtemp, rm, writeFile, chmod, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode, formatIssue, InventoryError } from "../../src/errors.js";
import { loadInventory, substituteEnv } from "../../src/inventory/index.js";
import { runSecrets } from "../../src/util/secrets.js";
import { at, FILE, inventory, issuesOf, load, onlyIssue, yaml } from "./helpers.js";

describe("reading the file", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "kubesmith-inv-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("names a missing file and says what to do", async () => {
    const file = join(dir, "nope.yaml");
    const err = await loadInventory(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InventoryError);
    const e = err as InventoryError;
    expect(e.exitCode).toBe(ExitCode.Inventory);
    expect(e.oneLine()).toBe(
      `${file}: inventory file not found (pass -i FILE or set KUBESMITH_INVENTORY; inventories/example.yaml is a starting point)`,
    );
  });

  it("refuses a directory", async () => {
    const err = (await loadInventory(dir).catch((e: unknown) => e)) as InventoryError;
    expect(err).toBeInstanceOf(InventoryError);
    expect(err.issues[0]?.message).toBe("is a directory, not an inventory file");
  });

  it.skipIf(process.getuid?.() === 0)("reports an unreadable file", async () => {
    const file = join(dir, "secret.yaml");
    await writeFile(file, inventory());
    await chmod(file, 0o000);
    const err = (await loadInventory(file).catch((e: unknown) => e)) as InventoryError;
    expect(err.issues[0]?.message).toBe("cannot read the inventory file (EACCES)");
  });

  it("returns the absolute file, and resolves key paths against the inventory's directory and ~", async () => {
    await mkdir(join(dir, "sub"), { recursive: true });
    const file = join(dir, "sub", "inv.yaml");
    await writeFile(
      file,
      inventory({
        top: "ssh: { identityFile: ~/.ssh/id_ed25519, knownHostsFile: known_hosts, bastion: { address: jump.example.com, identityFile: /abs/key } }",
        hosts: "  - { name: cp1, address: 192.168.1.10, roles: [control-plane], ssh: { identityFile: ../keys/cp1 } }",
      }),
    );
    const loaded = await loadInventory(file, { env: { HOME: "/home/alice" } });
    expect(loaded.file).toBe(file);
    expect(loaded.inventory.ssh?.identityFile).toBe("/home/alice/.ssh/id_ed25519");
    expect(loaded.inventory.ssh?.knownHostsFile).toBe(join(dir, "sub", "known_hosts"));
    expect(loaded.inventory.ssh?.bastion?.identityFile).toBe("/abs/key");
    expect(loaded.inventory.hosts[0]?.ssh?.identityFile).toBe(join(dir, "keys", "cp1"));
  });
});

describe("YAML errors", () => {
  it("gives the position of a syntax error", () => {
    const text = yaml`
      cluster:
        name: test
        kubernetesVersion: "1.33"
      hosts:
        - { name: cp1, address: 192.168.1.10, roles: [control-plane
    `;
    const issues = issuesOf(text);
    expect(issues.length).toBeGreaterThan(0);
    const first = issues[0]!;
    expect(first.file).toBe(FILE);
    expect(first.message).toMatch(/^YAML syntax error: /);
    expect(first.line).toBe(6);
    expect(first.column).toBe(1);
  });

  it("gives the position of a bad indentation", () => {
    const text = yaml`
      cluster:
        name: test
       kubernetesVersion: "1.33"
    `;
    const [issue] = issuesOf(text);
    expect(issue).toMatchObject({ line: 3, column: 1 });
    expect(formatIssue(issue!)).toBe("inv.yaml:3:1: YAML syntax error: all mapping items must start at the same column");
  });

  it("refuses a duplicate key, naming it, its path and the first occurrence", () => {
    const text = yaml`
      cluster:
        name: test
        kubernetesVersion: "1.33"
      hosts:
        - name: cp1
          address: 192.168.1.10
          roles: [control-plane]
          address: 192.168.1.11
    `;
    const issue = onlyIssue(issuesOf(text), "hosts[0].address");
    expect(issue).toMatchObject({ ...at(text, "address", 1), message: "duplicate key 'address'" });
    expect(issue.hint).toBe("a key may appear once per mapping; it is first set at line 6");
  });

  it("refuses tabs as indentation", () => {
    const [issue] = issuesOf("cluster:\n\tname: test\n");
    expect(issue).toMatchObject({ line: 2, column: 1, message: "YAML syntax error: tabs are not allowed as indentation" });
  });

  it("refuses several documents and empty files", () => {
    expect(issuesOf(`${inventory()}---\na: 1\n`)[0]?.message).toBe("the file holds more than one YAML document");
    expect(issuesOf("")[0]?.message).toBe("the inventory is empty");
    expect(issuesOf("# only a comment\n")[0]?.message).toBe("the inventory is empty");
    expect(issuesOf("- a\n- b\n")[0]).toMatchObject({ line: 1, column: 1, message: "the inventory must be a mapping with cluster: and hosts:" });
  });

  it("follows anchors and merge keys, with positions in the anchored text", () => {
    const text = yaml`
      cluster:
        name: test
        kubernetesVersion: "1.33"
      hosts:
        - &base { name: cp1, address: 192.168.1.10, roles: [control-plane], port: 0 }
        - <<: *base
          name: w1
          address: 192.168.1.20
    `;
    const issues = issuesOf(text);
    expect(issues.map((i) => i.path)).toEqual(["hosts[0].port", "hosts[1].port"]);
    for (const i of issues) expect(i).toMatchObject({ ...at(text, "0 }"), message: "must be at least 1 (got 0)" });
  });
});

describe("${VAR} substitution", () => {
  it("substitutes, keeps a whole ${VAR} a string, and escapes $${", () => {
    expect(substituteEnv("a${X}b$${Y}c$d", { X: "1" })).toEqual({ value: "a1b${Y}c$d", used: ["1"], missing: [], malformed: [] });
    const loaded = load(
      inventory({
        top: 'ssh: { user: "${LOGIN}", password: "${PW}", identityFile: "/k/$${HOME}" }',
        hosts: "  - { name: cp1, address: '${CP_ADDR}', roles: [control-plane], labels: { build: '${BUILD}' } }",
      }),
      { LOGIN: "ops", PW: "s3cret pw", CP_ADDR: "192.168.1.10", BUILD: "0042" },
    );
    expect(loaded.inventory.ssh?.user).toBe("ops");
    expect(loaded.inventory.ssh?.password).toBe("s3cret pw");
    expect(loaded.inventory.ssh?.identityFile).toBe("/k/${HOME}");
    expect(loaded.inventory.hosts[0]?.address).toBe("192.168.1.10");
    expect(loaded.inventory.hosts[0]?.labels?.build).toBe("0042");
    // Only credential fields are redacted; an address or a label from ${VAR} stays readable in logs.
    expect(loaded.secrets).toEqual(["s3cret pw"]);
    // ... and they are on the run's list of secrets from the moment the inventory is loaded.
    expect(runSecrets.has("s3cret pw")).toBe(true);
    expect(runSecrets.has("192.168.1.10")).toBe(false);
  });

  it("names a missing variable with the field path and its line", () => {
    const text = inventory({
      hosts: "  - { name: cp1, address: 192.168.1.10, roles: [control-plane], sudo: { password: '${CP1_SUDO_PW}' } }",
    });
    const issue = onlyIssue(issuesOf(text, { OTHER: "x" }), "hosts[0].sudo.password");
    expect(formatIssue(issue)).toBe(
      `inv.yaml:${at(text, "'${CP1").line}:${at(text, "'${CP1").column}: hosts[0].sudo.password: environment variable CP1_SUDO_PW is not set (export CP1_SUDO_PW=… before running)`,
    );
  });

  it("still reports the other problems when a variable is missing", () => {
    const text = inventory({
      top: "ssh: { password: '${SSH_PW}' }",
      hosts: "  - { name: cp1, address: 192.168.1.10, roles: [workr] }",
    });
    const issues = issuesOf(text);
    expect(issues.map((i) => i.path)).toEqual(["hosts[0].roles[0]", "ssh.password"]);
  });

  it("refuses a malformed reference", () => {
    const text = inventory({ top: "ssh: { user: 'a${not-a-name}' }" });
    const issue = onlyIssue(issuesOf(text), "ssh.user");
    expect(issue).toMatchObject({ ...at(text, "'a$"), message: "'${not-a-name}' is not a valid ${VAR} reference" });
  });

  it("does not substitute inside keys or non-strings", () => {
    const loaded = load(inventory({ hosts: "  - { name: cp1, address: 192.168.1.10, roles: [control-plane], port: 2222 }" }), {});
    expect(loaded.inventory.hosts[0]?.port).toBe(2222);
    expect(loaded.secrets).toEqual([]);
  });
});

describe("schema errors", () => {
  it("reports an unknown role with the allowed values", () => {
    const text = inventory({
      hosts: yaml`
        - name: cp1
          address: 192.168.1.10
          roles: [control-plane]
        - name: w1
          address: 192.168.1.20
          roles: [workr]
      `.replace(/^/gm, "  "),
    });
    const issue = onlyIssue(issuesOf(text), "hosts[1].roles[0]");
    expect(formatIssue(issue)).toBe(
      `inv.yaml:${at(text, "workr").line}:${at(text, "workr").column}: hosts[1].roles[0]: must be one of control-plane, worker, frontend (got "workr")`,
    );
  });

  it("suggests the right name for an unknown field, at the key", () => {
    const text = inventory({ hosts: "  - { name: cp1, adress: 192.168.1.10, roles: [control-plane] }" });
    const issues = issuesOf(text);
    expect(onlyIssue(issues, "hosts[0].adress")).toMatchObject({
      ...at(text, "adress"),
      message: "unknown field 'adress'",
      hint: "did you mean 'address'?",
    });
    // ... and the missing field is reported at the mapping that should hold it.
    expect(onlyIssue(issues, "hosts[0].address")).toMatchObject({ ...at(text, "{ name: cp1"), message: "missing required field 'address'" });
  });

  it("lists the known fields when nothing is close", () => {
    const text = inventory({ top: "ssh: { zzzzzz: 1 }" });
    expect(onlyIssue(issuesOf(text), "ssh.zzzzzz").hint).toMatch(/^known fields here: user, port, identityFile, /);
  });

  it("explains type errors without echoing the value", () => {
    const text = inventory({
      hosts: "  - { name: cp1, address: 192.168.1.10, roles: [control-plane], port: '22', sudo: hunter2 }",
    });
    const issues = issuesOf(text);
    expect(onlyIssue(issues, "hosts[0].port")).toMatchObject({ ...at(text, "'22'"), message: "must be a number (got a string)" });
    expect(onlyIssue(issues, "hosts[0].sudo")).toMatchObject({
      ...at(text, "hunter2"),
      message: "must be true or false, or a mapping (got a string)",
    });
    expect(JSON.stringify(issues)).not.toContain("hunter2");
  });

  it("picks the union branch the user meant (controlPlaneEndpoint with a typo)", () => {
    const text = inventory({ cluster: "  controlPlaneEndpoint: { vip: 192.168.1.100, interfce: eth0 }" });
    const issues = issuesOf(text);
    expect(issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      "cluster.controlPlaneEndpoint.interface: missing required field 'interface'",
      "cluster.controlPlaneEndpoint.interfce: unknown field 'interfce'",
    ]);
    expect(issues[1]).toMatchObject({ ...at(text, "interfce"), hint: "did you mean 'interface'?" });
  });

  it("keeps the schema's own messages, with the offending value", () => {
    const text = inventory({ cluster: "  podCIDR: 10.244.0.0/33\n  serviceCIDR: ''" });
    const issues = issuesOf(text);
    expect(onlyIssue(issues, "cluster.podCIDR")).toMatchObject({
      ...at(text, "10.244.0.0/33"),
      message: 'must be an IPv4 CIDR like 10.244.0.0/16 (got "10.244.0.0/33")',
    });
    expect(onlyIssue(issues, "cluster.serviceCIDR").message).toMatch(/^must be an IPv4 CIDR/);
  });

  it("reports bad label keys at the key and empty hosts", () => {
    const text = inventory({ hosts: "  - { name: cp1, address: 192.168.1.10, roles: [control-plane], labels: { 'bad key': x } }" });
    expect(onlyIssue(issuesOf(text), 'hosts[0].labels["bad key"]')).toMatchObject({
      ...at(text, "'bad key'"),
      message: `key "bad key" must be letters, digits, '-', '_' and '.', starting and ending with a letter or digit (like example.com/tier)`,
    });
    const empty = "cluster: { name: t, kubernetesVersion: '1.33' }\nhosts: []\n";
    expect(onlyIssue(issuesOf(empty), "hosts")).toMatchObject({ line: 2, column: 8, message: "needs at least one host" });
  });

  it("reports every problem at once, sorted by position", () => {
    const text = yaml`
      cluster:
        name: Test
        kubernetesVersion: "1.33"
      hosts:
        - name: cp1
          address: 192.168.1.10
          roles: []
          port: 70000
    `;
    const issues = issuesOf(text);
    expect(issues.map((i) => [i.path, i.line])).toEqual([
      ["cluster.name", 2],
      ["hosts[0].roles", 7],
      ["hosts[0].port", 8],
    ]);
    expect(issues[2]?.message).toBe("must be at most 65535 (got 70000)");
    expect(issues[1]?.message).toBe("needs at least one role");
  });
});
