// cluster.maxFailedWorkers (phases/partial.ts): a number of workers or a share like 10%; anything else is
// refused at its line, naming the field. --max-failed-workers is checked before anything runs.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { kubesmith } from "../helpers/cli.js";
import { inventory, issuesOf, load, onlyIssue } from "./helpers.js";

describe("cluster.maxFailedWorkers", () => {
  it.each([[0], [3], ['"10%"'], ['"2.5%"'], ['"100%"'], ['"4"']])("accepts %s", (v) => {
    expect(load(inventory({ cluster: `  maxFailedWorkers: ${v}` })).inventory.cluster.maxFailedWorkers).toBeDefined();
  });

  it.each([["-1"], ['"101%"'], ["1.5"], ['"ten"'], ['"10 %"']])("refuses %s naming the field", (v) => {
    const issue = onlyIssue(issuesOf(inventory({ cluster: `  maxFailedWorkers: ${v}` })), "cluster.maxFailedWorkers");
    expect(issue.line).toBe(4);
  });

  it("--max-failed-workers with a bad value: exit 2, one line, before the inventory is read", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kubesmith-mfw-"));
    const file = join(dir, "inventory.yaml");
    writeFileSync(file, inventory());
    const r = await kubesmith(["up", "-i", file, "--max-failed-workers", "lots", "--state-dir", join(dir, "state")], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("kubesmith: --max-failed-workers must be a number of workers like 2 or a share like 10% (got 'lots')\n");
  });
});
