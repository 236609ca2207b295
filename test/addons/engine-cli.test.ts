// `kubesmith addons list|render` in-process, against the fixture bundles (--addons-dir) and a small
// inventory written to a temp dir. No hosts are contacted: both commands are pure.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { afterAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { buildProgram, type CliIo, report } from "../../src/cli/main.js";
import { registerAddonsCommands } from "../../src/commands/addons.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "addons");
const tmp = mkdtempSync(join(tmpdir(), "kubesmith-addons-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function inventory(addons: string): string {
  const file = join(tmp, `inv-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    `cluster:
  name: cli
  kubernetesVersion: "1.36"
hosts:
  - { name: cp1, address: 198.18.0.11, roles: [control-plane] }
  - { name: fe1, address: 198.18.0.21, roles: [frontend] }
  - { name: fe2, address: 198.18.0.22, roles: [frontend] }
${addons}`,
  );
  return file;
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) };
  const program = buildProgram(io);
  registerAddonsCommands(program, io);
  const quiet = (c: Command) => {
    c.configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} }).exitOverride();
    c.commands.forEach(quiet);
  };
  quiet(program);
  try {
    await program.parseAsync(args, { from: "user" });
    return { code: 0, stdout, stderr };
  } catch (err) {
    return { code: report(err, io, false), stdout, stderr };
  }
}

describe("kubesmith addons list", () => {
  it("lists built-in and user bundles with what the inventory enables", async () => {
    const inv = inventory("addons:\n  demo: { enabled: true }\n");
    const r = await cli(["addons", "list", "-i", inv, "--addons-dir", FIXTURES]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+VERSION\s+TARGET\s+ENABLED\s+SOURCE\s+DESCRIPTION$/);
    expect(lines.find((l) => l.startsWith("demo ")) ?? "").toMatch(/^demo\s+1\.0\.0\s+cluster\s+yes\s+yours\s+Demo web service for engine tests$/);
    expect(lines.find((l) => l.startsWith("demo-hosts ")) ?? "").toMatch(/^demo-hosts\s+0\.1\.0\s+hosts\s+no\s+yours\s+/);
  });

  it("refuses an inventory naming a bundle that does not exist", async () => {
    const inv = inventory("addons:\n  demoo: { enabled: true }\n");
    const r = await cli(["addons", "list", "-i", inv, "--addons-dir", FIXTURES]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/addons\.demoo: no add-on bundle by this name \(did you mean demo\?/);
  });
});

describe("kubesmith addons render", () => {
  it("prints the objects as a YAML stream with inventory values, --set, --release and --namespace", async () => {
    const inv = inventory("addons:\n  demo:\n    values: { replicas: 3, message: from-inventory }\n");
    const r = await cli(["addons", "render", "demo", "-i", inv, "--addons-dir", FIXTURES, "--set", "service.type=NodePort", "--set", "replicas=5", "--release", "green", "--namespace", "apps"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const objs = parseAllDocuments(r.stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace: string }; spec: Record<string, unknown>; data?: Record<string, string> });
    expect(objs.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)).toEqual(["ConfigMap/apps/green-config", "Deployment/apps/green", "Service/apps/green"]);
    expect(objs[1]!.spec.replicas).toBe(5);
    expect(objs[0]!.data!.message).toBe("from-inventory");
    expect(objs[2]!.spec.type).toBe("NodePort");
  });

  it("refuses a bad value before rendering, naming the inventory and the key", async () => {
    const inv = inventory("addons:\n  demo:\n    values: { service: { type: Nodeport } }\n");
    const r = await cli(["addons", "render", "demo", "-i", inv, "--addons-dir", FIXTURES]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`${inv}: addons.demo.values.service.type: must be one of the allowed values, not "Nodeport" (allowed: "ClusterIP", "NodePort")`);
  });

  it("prints each host's files for a host bundle, secrets hidden", async () => {
    const inv = inventory("");
    const r = await cli(["addons", "render", "demo-hosts", "-i", inv, "--addons-dir", FIXTURES]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("# host fe1: /etc/demo/demo-hosts.conf (mode 0640)\n# fe1 (0)\npriority 100\npeer 198.18.0.22\n");
    expect(r.stdout).toContain("# host fe2: /etc/demo/token (mode 0600, secret)\n# (6 bytes, not shown; --show-secrets to print)\n");
    expect(r.stdout).not.toContain("s3cret");
    expect(r.stdout).not.toContain("cp1");
  });

  it("keepalived-edge: an interface carrying keepalived syntax never reaches the rendered file", async () => {
    const inv = inventory("addons:\n  keepalived-edge: { enabled: true, values: { authPass: Kx7pQ2wZ } }\n");
    // The edge VIP under cluster:, its interface written with YAML escapes as a hostile file would.
    const hostile = 'eth0\\n}\\nvrrp_script pwn {\\n script \\"/bin/touch /tmp/pwned\\"\\n';
    writeFileSync(inv, readFileSync(inv, "utf8").replace("\nhosts:", `\n  edgeVIP: { vip: 198.18.0.100, interface: "${hostile}" }\nhosts:`));
    const r = await cli(["addons", "render", "keepalived-edge", "-i", inv]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).not.toContain("\n}\nvrrp_script");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/:4:\d+: cluster\.edgeVIP\.interface: contains the control character \\n/);
    expect(lines[0]!.startsWith(`kubesmith: ${inv}:4:`)).toBe(true);
  });

  it("an unknown bundle is a usage error listing the known ones", async () => {
    const r = await cli(["addons", "render", "nope", "-i", inventory(""), "--addons-dir", FIXTURES]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no add-on bundle named nope \(known: .*demo, demo-hosts/);
  });
});
