// `kubesmith kubeconfig` with a local kubeconfig/<cluster>.yaml (no SSH): print and merge.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { cli, tinyInventory } from "./helpers.js";

const ADMIN = `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: https://203.0.113.10:6443
  name: kubernetes
users:
- name: kubernetes-admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
contexts:
- context:
    cluster: kubernetes
    user: kubernetes-admin
  name: kubernetes-admin@kubernetes
current-context: kubernetes-admin@kubernetes
`;

let inv: { dir: string; file: string };
const cwd = process.cwd();
beforeAll(() => {
  inv = tinyInventory("kcdemo");
  mkdirSync(join(inv.dir, "kubeconfig"));
  writeFileSync(join(inv.dir, "kubeconfig", "kcdemo.yaml"), ADMIN, { mode: 0o600 });
  process.chdir(inv.dir);
});
afterAll(() => process.chdir(cwd));

describe("kubesmith kubeconfig", () => {
  it("prints kubeconfig/<cluster>.yaml", async () => {
    const r = await cli(["kubeconfig", "-i", inv.file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(ADMIN);
  });

  it("--merge adds cluster, user and context named after the cluster and keeps what was there", async () => {
    const target = join(inv.dir, "home", "config");
    mkdirSync(join(inv.dir, "home"));
    writeFileSync(target, "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster: {server: https://127.0.0.1:1}\ncontexts:\n- name: other\n  context: {cluster: other, user: o}\ncurrent-context: other\n");
    const r = await cli(["kubeconfig", "-i", inv.file, "--merge", "--into", target]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`merged context kcdemo into ${target} (kubectl --context kcdemo get nodes)\n`);
    const cfg = parse(readFileSync(target, "utf8")) as { clusters: { name: string; cluster: { server: string } }[]; contexts: { name: string }[]; "current-context": string };
    expect(cfg.clusters.map((c) => c.name).sort()).toEqual(["kcdemo", "other"]);
    expect(cfg.clusters.find((c) => c.name === "kcdemo")!.cluster.server).toBe("https://203.0.113.10:6443");
    expect(cfg.contexts.map((c) => c.name).sort()).toEqual(["kcdemo", "other"]);
    expect(cfg["current-context"]).toBe("other");
  });

  // The key is checked before any connection is made, so nothing is contacted here.
  it("without the local file it goes to the first control plane, and says which host failed", async () => {
    const other = tinyInventory("nofile");
    const r = await cli(["kubeconfig", "-i", other.file]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^kubesmith: cp1: cannot parse identity file .*\n$/);
    expect(existsSync(join(inv.dir, "kubeconfig", "nofile.yaml"))).toBe(false);
  }, 60_000);
});
