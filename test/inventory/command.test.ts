import { join } from "node:path";
import { Command } from "commander";
import { afterEach, describe, expect, it, vi } from "vitest";
import { InventoryError } from "../../src/errors.js";
import { registerInventoryCommands, resolveInventoryPath } from "../../src/commands/inventory.js";
import { inventoryJsonSchema } from "../../src/inventory/index.js";

const root = join(import.meta.dirname, "..", "..");

async function run(...args: string[]): Promise<{ out: string; err: string }> {
  const program = new Command("kubesmith").exitOverride();
  registerInventoryCommands(program);
  let out = "";
  let err = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  try {
    await program.parseAsync(["node", "kubesmith", ...args]);
  } finally {
    vi.restoreAllMocks();
  }
  return { out, err };
}

describe("kubesmith inventory", () => {
  afterEach(() => vi.restoreAllMocks());

  it("validate prints a summary for a good inventory", async () => {
    const file = join(root, "inventories", "example.yaml");
    const { out, err } = await run("inventory", "validate", "-i", file);
    expect(out).toBe(`inventory OK: ${file} (4 hosts: 1 control plane, 2 workers, 1 frontend)\n`);
    expect(err).toBe("");
  });

  it("validate throws the InventoryError for a bad one (the CLI main prints it)", async () => {
    const file = join(root, "test", "fixtures", "inventories", "bad-role.yaml");
    const e = await run("inventory", "validate", "--inventory", file).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InventoryError);
    expect((e as InventoryError).oneLine()).toBe(
      `${file}:12:13: hosts[1].roles[0]: must be one of control-plane, worker, frontend (got "workr")`,
    );
  });

  it("schema prints the JSON schema with a trailing newline", async () => {
    const { out } = await run("inventory", "schema");
    expect(out.endsWith("}\n")).toBe(true);
    expect(JSON.parse(out)).toEqual(inventoryJsonSchema());
  });

  it("resolves the inventory path: flag, then $KUBESMITH_INVENTORY, then ./inventory.yaml", () => {
    expect(resolveInventoryPath("a.yaml", { KUBESMITH_INVENTORY: "b.yaml" })).toBe("a.yaml");
    expect(resolveInventoryPath(undefined, { KUBESMITH_INVENTORY: "b.yaml" })).toBe("b.yaml");
    expect(resolveInventoryPath(undefined, {})).toBe("./inventory.yaml");
  });
});
