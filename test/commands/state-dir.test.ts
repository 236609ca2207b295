// The state belongs to the inventory: `secrets` and `logs` find it from any working directory.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { kubesmith } from "../helpers/cli.js";

const INVENTORY = `apiVersion: kubesmith.io/v1alpha1
kind: Cluster
cluster:
  name: stately
  kubernetesVersion: "1.36"
  podCIDR: 10.244.0.0/16
  serviceCIDR: 10.96.0.0/12
hosts:
  - name: cp1
    address: 198.18.200.10
    roles: [control-plane]
`;

describe("state beside the inventory", () => {
  const dir = mkdtempSync(join(tmpdir(), "ks-statedir-"));
  const elsewhere = mkdtempSync(join(tmpdir(), "ks-cwd-"));
  const inv = join(dir, "inventory.yaml");
  beforeAll(async () => {
    writeFileSync(inv, INVENTORY);
    mkdirSync(join(dir, ".kubesmith", "stately"), { recursive: true });
    writeFileSync(join(dir, ".kubesmith", "stately", "secrets.json"), JSON.stringify({ vrrpPass: "vrrp1234", addons: { grafana: { adminPassword: "Gr4fana" } } }), { mode: 0o600 });
  });

  it("secrets -i /abs/inventory.yaml from another directory shows the inventory's secrets", async () => {
    const r = await kubesmith(["secrets", "-i", inv], { cwd: elsewhere, env: { KUBESMITH_STATE_DIR: "" } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/grafana\s+adminPassword\s+Gr4fana/);
  });

  it("$KUBESMITH_STATE_DIR and --state-dir point elsewhere (and the error names the directory)", async () => {
    const empty = join(elsewhere, "nothing-here");
    const r = await kubesmith(["secrets", "-i", inv], { cwd: elsewhere, env: { KUBESMITH_STATE_DIR: empty } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(empty);
    expect(r.stderr).toMatch(/--state-dir/);
    const f = await kubesmith(["secrets", "-i", inv, "--state-dir", join(dir, ".kubesmith")], { cwd: elsewhere, env: { KUBESMITH_STATE_DIR: empty } });
    expect(f.code, f.stderr).toBe(0);
  });

  it("logs from another directory looks in the inventory's state", async () => {
    const r = await kubesmith(["logs", "-i", inv], { cwd: elsewhere, env: { KUBESMITH_STATE_DIR: "" } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(join(dir, ".kubesmith", "stately", "runs"));
  });
});
