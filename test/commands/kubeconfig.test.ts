// `kubesmith kubeconfig` with the kubeconfig `up` keeps in the cluster's state (<state>/<cluster>/kubeconfig,
// no SSH): print and merge, from any directory; an older run's ./kubeconfig/<cluster>.yaml is named, not used.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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
  // where up writes it: the state beside the inventory (.kubesmith), under the cluster's name
  mkdirSync(join(inv.dir, ".kubesmith", "kcdemo"), { recursive: true });
  writeFileSync(join(inv.dir, ".kubesmith", "kcdemo", "kubeconfig"), ADMIN, { mode: 0o600 });
  process.chdir(inv.dir);
});
afterAll(() => process.chdir(cwd));

describe("kubesmith kubeconfig", () => {
  it("prints the kubeconfig kept in the cluster's state, also from another directory", async () => {
    const r = await cli(["kubeconfig", "-i", inv.file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(ADMIN);
    const elsewhere = mkdtempSync(join(tmpdir(), "kubesmith-kc-cwd-"));
    process.chdir(elsewhere);
    try {
      const o = await cli(["kubeconfig", "-i", inv.file]);
      expect(o.code, o.stderr).toBe(0);
      expect(o.stdout).toBe(ADMIN);
    } finally {
      process.chdir(inv.dir);
    }
  });

  it("--state-dir says where the state is", async () => {
    const state = mkdtempSync(join(tmpdir(), "kubesmith-kc-state-"));
    mkdirSync(join(state, "kcdemo"));
    const other = ADMIN.replace("203.0.113.10", "203.0.113.99");
    writeFileSync(join(state, "kcdemo", "kubeconfig"), other, { mode: 0o600 });
    const r = await cli(["kubeconfig", "-i", inv.file, "--state-dir", state]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(other);
  });

  it("a kubeconfig/<cluster>.yaml an older run left in the working directory is named once and left alone", async () => {
    const old = join(inv.dir, "kubeconfig", "kcdemo.yaml");
    mkdirSync(join(inv.dir, "kubeconfig"));
    writeFileSync(old, "stale\n", { mode: 0o600 });
    try {
      const r = await cli(["kubeconfig", "-i", inv.file]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(ADMIN);
      expect(r.stderr.split("\n").filter((l) => l.includes(old))).toHaveLength(1);
      expect(r.stderr).toContain(join(inv.dir, ".kubesmith", "kcdemo", "kubeconfig"));
      expect(readFileSync(old, "utf8")).toBe("stale\n");
    } finally {
      rmSync(join(inv.dir, "kubeconfig"), { recursive: true });
    }
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
    expect(existsSync(join(other.dir, ".kubesmith", "nofile", "kubeconfig"))).toBe(false);
  }, 60_000);
});
