// down/rebuild's drain flags become ClusterOptions: --drain-timeout in seconds (or a duration), --force.
import { describe, expect, it } from "vitest";
import { clusterOptions, type ClusterFlags } from "../../src/commands/cluster.js";
import { UsageError } from "../../src/errors.js";

const base: ClusterFlags = { inventory: "inv.yaml", concurrency: "4", stateDir: ".kubesmith", output: "plain", waitTimeout: "5m" };

describe("--drain-timeout and --force", () => {
  it("seconds, a duration, and --force reach the options", () => {
    expect(clusterOptions({ ...base, drainTimeout: "30" }, false).drainTimeoutMs).toBe(30_000);
    expect(clusterOptions({ ...base, drainTimeout: "2m" }, false).drainTimeoutMs).toBe(120_000);
    expect(clusterOptions({ ...base, force: true }, false).force).toBe(true);
    expect(clusterOptions(base, false).force).toBeUndefined();
  });
  it("anything else is a usage error naming the flag", () => {
    expect(() => clusterOptions({ ...base, drainTimeout: "soon" }, false)).toThrow(UsageError);
    expect(() => clusterOptions({ ...base, drainTimeout: "soon" }, false)).toThrow("--drain-timeout must be seconds or a duration like 90s or 5m (got 'soon')");
  });
});
