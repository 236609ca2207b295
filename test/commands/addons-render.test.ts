// `addons render` works offline, as `helm template` does: without an inventory (the example one), and with
// generated values as placeholders, or the stored ones with --show-secrets.
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { diffCount, formatDiff } from "../../src/addons/diff.js";
import { packageRoot } from "../../src/util/pkg.js";
import { kubesmith } from "../helpers/cli.js";

const empty = mkdtempSync(join(tmpdir(), "ks-render-"));

function adminPassword(out: string): string {
  const secret = parseAllDocuments(out).map((d) => d.toJS() as { kind?: string; data?: Record<string, string> }).find((o) => o?.kind === "Secret" && o.data?.["admin-password"]);
  return Buffer.from(secret!.data!["admin-password"]!, "base64").toString("utf8");
}

describe("addons render, offline", () => {
  it.each(["grafana", "traefik", "keepalived-edge"])("%s renders without -i, against the example inventory, with placeholders", async (name) => {
    const r = await kubesmith(["addons", "render", name], { cwd: empty, env: { KUBESMITH_INVENTORY: "" } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^# rendered against .*inventories\/example\.yaml/);
    expect(r.stdout).toMatch(/a placeholder \('kubesmith up' generates it\)/);
  });

  it("with -i: the placeholder, or with --show-secrets the value kept in the cluster's state", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ks-render-inv-"));
    cpSync(join(packageRoot(), "inventories", "example.yaml"), join(dir, "inv.yaml"));
    const plain = await kubesmith(["addons", "render", "grafana", "-i", join(dir, "inv.yaml")], { cwd: empty });
    expect(plain.code, plain.stderr).toBe(0);
    expect(adminPassword(plain.stdout)).toMatch(/^GENERATED/);
    mkdirSync(join(dir, ".kubesmith", "example"), { recursive: true });
    writeFileSync(join(dir, ".kubesmith", "example", "secrets.json"), JSON.stringify({ vrrpPass: "x", addons: { grafana: { adminPassword: "Stored1234567890" } } }));
    const shown = await kubesmith(["addons", "render", "grafana", "-i", join(dir, "inv.yaml"), "--show-secrets"], { cwd: empty });
    expect(shown.code, shown.stderr).toBe(0);
    expect(adminPassword(shown.stdout)).toBe("Stored1234567890");
    expect(shown.stdout).toMatch(/adminPassword: the value kept in the cluster's state/);
  });
});

describe("addons diff output", () => {
  it("shows each changed field's live and new value, hides a Secret's data, counts objects", () => {
    const d = {
      release: "grafana",
      create: ["ConfigMap/monitoring/dash"],
      update: [
        { id: "Deployment/monitoring/grafana", fields: ["spec.replicas"], changes: [{ path: "spec.replicas", before: 1, after: 2 }] },
        { id: "Secret/monitoring/grafana-admin", fields: ["data.admin-password"], changes: [{ path: "data.admin-password", before: "b2xk", after: "bmV3" }] },
      ],
      prune: [],
    };
    const out = formatDiff(d);
    expect(out).toContain("      spec.replicas: 1 → 2");
    expect(out).toContain("      data.admin-password: (hidden) → (hidden)");
    expect(out).not.toMatch(/b2xk|bmV3/);
    expect(diffCount(d)).toBe(3);
  });
});
