import { describe, expect, it } from "vitest";
import { stateDirFor } from "../../src/cluster/state.js";

describe("stateDirFor", () => {
  it("is .kubesmith beside the inventory file, whatever the working directory", () => {
    expect(stateDirFor(undefined, "/srv/clusters/prod/inventory.yaml", {})).toBe("/srv/clusters/prod/.kubesmith");
  });
  it("$KUBESMITH_STATE_DIR overrides the default, and --state-dir overrides both", () => {
    expect(stateDirFor(undefined, "/srv/inv.yaml", { KUBESMITH_STATE_DIR: "/var/lib/ks" })).toBe("/var/lib/ks");
    expect(stateDirFor("/opt/state", "/srv/inv.yaml", { KUBESMITH_STATE_DIR: "/var/lib/ks" })).toBe("/opt/state");
  });
});
