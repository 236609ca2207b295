// `kubesmith inventory validate` checks the addons section with the code `plan` runs first (catalog names,
// each enabled bundle's values schema, Calico's parseCalicoValues), so the two agree; every problem is one
// line at the addons entry's file:line:column.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { registerInventoryCommands } from "../../src/commands/inventory.js";
import { InventoryError, type InventoryIssue } from "../../src/errors.js";
import { kubesmith } from "../helpers/cli.js";

const HEAD = `cluster:
  name: test
  kubernetesVersion: "1.36"
  edgeVIP: { vip: 192.0.2.100, interface: eth0 }
hosts:
  - { name: cp1, address: 192.0.2.10, roles: [control-plane] }
  - { name: fe1, address: 192.0.2.20, roles: [frontend] }
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kubesmith-validate-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(addons: string): Promise<string> {
  const file = join(dir, `inv-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, `${HEAD}${addons}`);
  return file;
}

/** validate in-process: the issues it throws, or [] with its output when the inventory is accepted. */
async function validate(file: string): Promise<{ issues: InventoryIssue[]; out: string }> {
  const program = new Command("kubesmith").exitOverride();
  registerInventoryCommands(program);
  let out = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    await program.parseAsync(["node", "kubesmith", "inventory", "validate", "-i", file]);
    return { issues: [], out };
  } catch (err) {
    if (err instanceof InventoryError) return { issues: err.issues, out };
    throw err;
  } finally {
    vi.restoreAllMocks();
  }
}

const lineOf = (file: string, text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1 || void file;

describe("inventory validate: the addons section", () => {
  it("refuses an unknown add-on at its key, with a guess", async () => {
    const file = await write("addons:\n  traefk: { enabled: true }\n");
    const { issues } = await validate(file);
    expect(issues).toEqual([
      expect.objectContaining({ file, line: 9, column: 3, path: "addons.traefk", message: "no add-on bundle by this name", hint: expect.stringMatching(/^did you mean traefik\?/) }),
    ]);
  });

  it("refuses values the bundle's schema refuses, at the value's line", async () => {
    const addons = "addons:\n  grafana:\n    enabled: true\n    values:\n      service: { nodePort: 80 }\n";
    const file = await write(addons);
    const { issues } = await validate(file);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file, line: lineOf(file, HEAD + addons, "nodePort"), path: "addons.grafana.values.service.nodePort", message: "80 must be >= 30000" });
  });

  it("refuses an unknown values key and a wrong type, one issue each", async () => {
    const addons = "addons:\n  traefik:\n    values: { logLevl: INFO, accessLog: maybe }\n";
    const { issues } = await validate(await write(addons));
    expect(issues.map((i) => i.path).sort()).toEqual(["addons.traefik.values.accessLog", "addons.traefik.values.logLevl"]);
    for (const i of issues) expect(i.line).toBe(10);
  });

  it("refuses Calico values as the CNI phase's parseCalicoValues does, at their line", async () => {
    const addons = "addons:\n  calico:\n    values: { manifest: compactt }\n";
    const { issues } = await validate(await write(addons));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 10, path: "addons.calico.values.manifest", message: 'must be one of upstream, compact (got "compactt")' });
    const url = await validate(await write("addons:\n  calico:\n    values: { manifest: { url: https://example.com/c.yaml } }\n"));
    expect(url.issues.map((i) => [i.path, i.message])).toEqual([["addons.calico.values.manifest.sha256", "missing required field 'sha256'"]]);
  });

  it("accepts what plan accepts: secrets kubesmith generates may be left out, disabled bundles are not checked", async () => {
    const file = await write(
      "addons:\n  keepalived-edge: { enabled: true }\n  traefik: {}\n  grafana: { enabled: false, values: { service: { nodePort: 1 } } }\n  calico: { values: { manifest: compact } }\n",
    );
    const { issues, out } = await validate(file);
    expect(issues).toEqual([]);
    expect(out).toBe(`inventory OK: ${file} (2 hosts: 1 control plane, 0 workers, 1 frontend)\n`);
  });

  it("refuses a given secret the bundle's schema refuses (keepalived's PASS)", async () => {
    const { issues } = await validate(await write("addons:\n  keepalived-edge: { enabled: true, values: { authPass: 'has space' } }\n"));
    expect(issues).toEqual([expect.objectContaining({ line: 9, path: "addons.keepalived-edge.values.authPass" })]);
  });

  it("reports every problem of the file at once, sorted by line", async () => {
    const addons = "addons:\n  traefk: {}\n  grafana:\n    values: { service: { nodePort: 80 } }\n  calico:\n    values: { manifest: nope }\n";
    const { issues } = await validate(await write(addons));
    expect(issues.map((i) => [i.line, i.path])).toEqual([
      [9, "addons.traefk"],
      [11, "addons.grafana.values.service.nodePort"],
      [13, "addons.calico.values.manifest"],
    ]);
  });
});

describe("validate and plan agree (built CLI)", () => {
  const cases: Array<[string, string]> = [
    ["addons:\n  traefk: { enabled: true }\n", "addons.traefk"],
    ["addons:\n  grafana:\n    values: { service: { nodePort: 80 } }\n", "addons.grafana.values.service.nodePort"],
  ];
  it.each(cases)("%j: both exit 3 naming %s", async (addons, path) => {
    const file = await write(addons);
    const env = { HOME: dir, KUBESMITH_INVENTORY: "" };
    const v = await kubesmith(["inventory", "validate", "-i", file], { cwd: dir, env });
    expect(v.code, v.stderr).toBe(3);
    expect(v.stderr).toMatch(new RegExp(`^kubesmith: ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: ${path.replace(/\./g, "\\.")}: `));
    expect(v.stderr.trimEnd().split("\n")).toHaveLength(1);
    const p = await kubesmith(["plan", "-i", file], { cwd: dir, env });
    expect(p.code, p.stderr).toBe(3);
    expect(p.stderr).toContain(` ${path}: `);
  });
});
