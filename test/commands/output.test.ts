// One -o vocabulary on the read commands: table (default), json and yaml carry the same data.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { kubesmith } from "../helpers/cli.js";

const INVENTORY = `apiVersion: kubesmith.io/v1alpha1
kind: Cluster
cluster:
  name: outfmt
  kubernetesVersion: "1.36"
hosts:
  - name: cp1
    address: 198.18.200.10
    roles: [control-plane]
`;

describe("-o table|json|yaml", () => {
  const dir = mkdtempSync(join(tmpdir(), "ks-output-"));
  const inv = join(dir, "inventory.yaml");
  writeFileSync(inv, INVENTORY);
  mkdirSync(join(dir, ".kubesmith", "outfmt"), { recursive: true });
  writeFileSync(join(dir, ".kubesmith", "outfmt", "secrets.json"), JSON.stringify({ vrrpPass: "vrrp1234", addons: { grafana: { adminPassword: "Gr4fana" } } }), { mode: 0o600 });
  const run = (args: string[]) => kubesmith(args, { cwd: dir, env: { KUBESMITH_STATE_DIR: "", KUBESMITH_INVENTORY: "" } });

  it.each([
    ["addons", "list", "-i", inv],
    ["secrets", "-i", inv],
    ["version"],
    ["lab", "status", "--name", "no-such-lab"],
  ])("%s %s: json and yaml give the same data", async (...args: string[]) => {
    const j = await run([...args, "-o", "json"]);
    const y = await run([...args, "-o", "yaml"]);
    expect(j.code, j.stderr).toBe(0);
    expect(y.code, y.stderr).toBe(0);
    expect(parse(y.stdout)).toEqual(JSON.parse(j.stdout));
    const bad = await run([...args, "-o", "xml"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/xml/);
  });

  it("the data: addons list names each bundle with enabled and dependsOn; secrets its values; lab status says it is not up", async () => {
    const list = JSON.parse((await run(["addons", "list", "-i", inv, "-o", "json"])).stdout) as { name: string; enabled: boolean; dependsOn: string[] }[];
    expect(list.find((b) => b.name === "grafana")).toMatchObject({ dependsOn: ["prometheus"] });
    const secrets = JSON.parse((await run(["secrets", "-i", inv, "-o", "json"])).stdout) as { cluster: string; addons: Record<string, Record<string, string>> };
    expect(secrets).toMatchObject({ cluster: "outfmt", addons: { grafana: { adminPassword: "Gr4fana" } } });
    const lab = JSON.parse((await run(["lab", "status", "--name", "no-such-lab", "-o", "json"])).stdout) as { exists: boolean };
    expect(lab.exists).toBe(false);
  });
});
