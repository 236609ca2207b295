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

  it("--merge writes to the first file of $KUBECONFIG, and --kubeconfig names the file", async () => {
    const a = join(inv.dir, "kc-a");
    const prev = process.env.KUBECONFIG;
    process.env.KUBECONFIG = `${a}:${join(inv.dir, "kc-b")}`;
    try {
      const r = await cli(["kubeconfig", "-i", inv.file, "--merge"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`into ${a} `);
      expect((parse(readFileSync(a, "utf8")) as { contexts: { name: string }[] }).contexts.map((c) => c.name)).toEqual(["kcdemo"]);
      const c = join(inv.dir, "kc-c");
      const f = await cli(["kubeconfig", "-i", inv.file, "--merge", "--kubeconfig", c]);
      expect(f.code, f.stderr).toBe(0);
      expect(existsSync(c)).toBe(true);
      expect(existsSync(join(inv.dir, "kc-b"))).toBe(false);
    } finally {
      if (prev === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = prev;
    }
  });

  it("the kubeconfig kubesmith writes names cluster, user and context after the cluster, not kubeadm's kubernetes-admin@kubernetes", async () => {
    const { namedKubeconfig } = await import("../../src/phases/api.js");
    const k = parse(namedKubeconfig(ADMIN, "prod")) as { clusters: { name: string; cluster: { server: string } }[]; users: { name: string; user: Record<string, string> }[]; contexts: { name: string; context: { cluster: string; user: string } }[]; "current-context": string };
    expect(k.clusters).toEqual([{ name: "prod", cluster: { "certificate-authority-data": "Q0E=", server: "https://203.0.113.10:6443" } }]);
    expect(k.users.map((u) => u.name)).toEqual(["prod-admin"]);
    expect(k.users[0]!.user["client-key-data"]).toBe("S0VZ");
    expect(k.contexts).toEqual([{ name: "prod", context: { cluster: "prod", user: "prod-admin" } }]);
    expect(k["current-context"]).toBe("prod");
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
