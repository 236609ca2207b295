// cluster.firewall and hosts[].firewall: manage (default), disable or ignore; anything else is refused.
import { describe, expect, it } from "vitest";
import { InventorySchema, inventoryJsonSchema } from "../../src/inventory/schema.js";

const inv = (cluster: Record<string, unknown> = {}, host: Record<string, unknown> = {}) => ({
  cluster: { name: "c", kubernetesVersion: "1.36", ...cluster },
  hosts: [{ name: "cp1", address: "198.18.0.11", roles: ["control-plane"], ...host }],
});

describe("inventory: firewall", () => {
  it("accepts manage, disable and ignore at cluster and host level, and leaves it out by default", () => {
    for (const m of ["manage", "disable", "ignore"]) {
      expect(InventorySchema.safeParse(inv({ firewall: m })).success, m).toBe(true);
      expect(InventorySchema.safeParse(inv({}, { firewall: m })).success, m).toBe(true);
    }
    const parsed = InventorySchema.parse(inv());
    expect(parsed.cluster.firewall).toBeUndefined();
    expect(parsed.hosts[0]!.firewall).toBeUndefined();
  });
  it("refuses other values", () => {
    for (const bad of ["off", true, "firewalld"]) {
      expect(InventorySchema.safeParse(inv({ firewall: bad })).success).toBe(false);
      expect(InventorySchema.safeParse(inv({}, { firewall: bad })).success).toBe(false);
    }
  });
  it("is described in the JSON schema", () => {
    const text = JSON.stringify(inventoryJsonSchema());
    expect(text).toContain("disable: stop and disable firewalld");
    expect(text).toContain("overrides cluster.firewall");
  });
});
