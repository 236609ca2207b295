// ssh.connectTimeout and ssh.retryBudget: seconds (a number) or a duration, in the ssh defaults and in a
// host's own ssh: block; anything else is refused naming the field. Both are in the JSON schema.
import { describe, expect, it } from "vitest";
import { inventoryJsonSchema } from "../../src/inventory/schema.js";
import { inventory, issuesOf, load, onlyIssue } from "./helpers.js";

const withSsh = (top: string, hostSsh = "") =>
  inventory({
    top,
    hosts: [
      `  - { name: cp1, address: 192.168.1.10, roles: [control-plane]${hostSsh ? `, ssh: ${hostSsh}` : ""} }`,
      "  - { name: w1, address: 192.168.1.20, roles: [worker] }",
    ].join("\n"),
  });

describe("ssh.connectTimeout and ssh.retryBudget", () => {
  it("take seconds or durations, in the defaults and per host", () => {
    const loaded = load(withSsh("ssh: { connectTimeout: 5, retryBudget: 45s }", "{ connectTimeout: 2500ms, retryBudget: 0 }"));
    expect(loaded.inventory.ssh).toMatchObject({ connectTimeout: 5, retryBudget: "45s" });
    expect(loaded.inventory.hosts[0]?.ssh).toMatchObject({ connectTimeout: "2500ms", retryBudget: 0 });
  });

  it.each([
    ["ssh: { retryBudget: -1 }", "", "ssh.retryBudget"],
    ["ssh: { retryBudget: soon }", "", "ssh.retryBudget"],
    ["ssh: { connectTimeout: 0 }", "", "ssh.connectTimeout"],
    ["", "{ retryBudget: [1] }", "hosts[0].ssh.retryBudget"],
  ])("%s %s: refused naming %s", (top, hostSsh, path) => {
    onlyIssue(issuesOf(withSsh(top, hostSsh)), path);
  });

  it("are in the JSON schema", () => {
    const s = JSON.stringify(inventoryJsonSchema());
    expect(s).toContain('"retryBudget"');
    expect(s).toContain('"connectTimeout"');
  });
});
