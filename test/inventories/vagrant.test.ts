// The Vagrantfile and inventories/vagrant.yaml describe the same machines.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadInventory } from "../../src/inventory/load.js";

function vagrantNodes(): { name: string; ip: string; role: string }[] {
  const text = readFileSync("Vagrantfile", "utf8");
  const re = /\{\s*name:\s*"([^"]+)",\s*ip:\s*"([^"]+)"[^}]*\},\s*#\s*(.+)$/gm;
  return [...text.matchAll(re)].map((m) => ({ name: m[1]!, ip: m[2]!, role: m[3]!.trim() }));
}

describe("Vagrantfile and inventories/vagrant.yaml", () => {
  it("agree on names, addresses and roles", async () => {
    const nodes = vagrantNodes();
    expect(nodes.length).toBeGreaterThanOrEqual(3);
    const { inventory } = await loadInventory("inventories/vagrant.yaml");
    expect(inventory.hosts.map((h) => [h.name, h.address])).toEqual(nodes.map((n) => [n.name, n.ip]));
    for (const n of nodes) {
      const h = inventory.hosts.find((x) => x.name === n.name)!;
      const want = n.role.split(/\s*\+\s*/).map((r) => r.trim());
      expect([...h.roles].sort(), `roles of ${n.name}`).toEqual([...want].sort());
    }
  });

  it("uses the key Vagrant writes for each machine", async () => {
    const { inventory } = await loadInventory("inventories/vagrant.yaml");
    for (const h of inventory.hosts) {
      expect(h.ssh?.identityFile ?? inventory.ssh?.identityFile).toContain(`.vagrant/machines/${h.name}/`);
    }
  });
});
