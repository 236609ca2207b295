import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatIssue, InventoryError } from "../../src/errors.js";
import { hostsByRole, inventoryJsonSchema, loadInventory } from "../../src/inventory/index.js";

const root = join(import.meta.dirname, "..", "..");
const inventories = join(root, "inventories");
const fixtures = join(root, "test", "fixtures", "inventories");

describe("example inventories", () => {
  it("example.yaml validates: 1 control plane, 2 workers, 1 frontend, documentation addresses", async () => {
    const { inventory, warnings } = await loadInventory(join(inventories, "example.yaml"), { env: {} });
    expect(warnings).toEqual([]);
    const names = (role: "control-plane" | "worker" | "frontend") => hostsByRole(inventory, role).map((h) => h.name);
    expect(names("control-plane")).toEqual(["cp1"]);
    expect(names("frontend")).toEqual(["frontend1"]);
    expect(inventory.hosts.filter((h) => h.roles.includes("worker")).map((h) => h.name)).toEqual(["worker1", "worker2"]);
    for (const h of inventory.hosts) expect(h.address).toMatch(/^203\.0\.113\.\d+$/);
    expect(inventory.ssh?.identityFile).toBeDefined();
  });

  it("vagrant.yaml validates and matches the Vagrantfile", async () => {
    const file = join(inventories, "vagrant.yaml");
    const { inventory, warnings } = await loadInventory(file, { env: {} });
    expect(warnings).toEqual([]);
    const vagrantfile = await readFile(join(root, "Vagrantfile"), "utf8");
    const nodes = [...vagrantfile.matchAll(/\{\s*name:\s*"([^"]+)",\s*ip:\s*"([^"]+)"[^}]*\},?\s*#\s*(.*)$/gm)].map((m) => ({
      name: m[1],
      ip: m[2],
      roles: m[3]!.trim(),
    }));
    expect(nodes.length).toBe(4);
    expect(inventory.hosts.map((h) => ({ name: h.name, ip: h.address, roles: h.roles.join(" + ") }))).toEqual(nodes);
    expect(inventory.cluster).toMatchObject({ kubernetesVersion: "1.36", podCIDR: "10.244.0.0/16", serviceCIDR: "10.96.0.0/12" });
    expect(inventory.ssh).toMatchObject({ user: "vagrant", hostKeyPolicy: "accept-new" });
    for (const h of inventory.hosts) {
      expect(h.sudo).toBe(true);
      expect(h.ssh?.identityFile).toBe(join(root, ".vagrant", "machines", h.name, "virtualbox", "private_key"));
    }
  });

  it("both point editors at the schema", async () => {
    for (const f of ["example.yaml", "vagrant.yaml"]) {
      const text = await readFile(join(inventories, f), "utf8");
      expect(text.split("\n")[0]).toBe("# yaml-language-server: $schema=./schema.json");
    }
  });
});

describe("inventories/schema.json", () => {
  it("is up to date with src/inventory/schema.ts", async () => {
    const onDisk = await readFile(join(inventories, "schema.json"), "utf8");
    const fresh = `${JSON.stringify(inventoryJsonSchema(), null, 2)}\n`;
    expect(onDisk === fresh, "inventories/schema.json is stale: run `npm run build && npm run schema` and commit it").toBe(true);
  });

  it("describes the inventory's top level", () => {
    const schema = inventoryJsonSchema() as { properties: Record<string, unknown>; required: string[]; additionalProperties: boolean };
    expect(Object.keys(schema.properties)).toEqual(["apiVersion", "kind", "cluster", "ssh", "hosts", "addons", "offline", "proxy"]);
    expect(schema.required).toEqual(["cluster", "hosts"]);
    expect(schema.additionalProperties).toBe(false);
  });
});

describe("invalid fixtures", async () => {
  const files = (await readdir(fixtures)).filter((f) => f.endsWith(".yaml")).sort();
  it("exist", () => expect(files.length).toBeGreaterThanOrEqual(5));
  it.each(files)("%s fails with the error its header announces", async (name) => {
    const file = join(fixtures, name);
    const text = await readFile(file, "utf8");
    const expected = /^# expect: (.*)$/m.exec(text)?.[1];
    expect(expected, "fixture needs an '# expect: ' line").toBeDefined();
    const err = await loadInventory(file, { env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InventoryError);
    const lines = (err as InventoryError).issues.map(formatIssue);
    expect(lines.some((l) => l.startsWith(file) && l.includes(expected!)), lines.join("\n")).toBe(true);
  });
});
