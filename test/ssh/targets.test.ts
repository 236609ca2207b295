import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Inventory } from "../../src/inventory/schema.js";
import { parseSeconds, setConnectOverrides } from "../../src/ssh/overrides.js";
import { parseDuration, targetsFromInventory } from "../../src/ssh/targets.js";

const inv = (over: Partial<Inventory>): Inventory =>
  ({
    cluster: { name: "c", kubernetesVersion: "1.33", podCIDR: "10.244.0.0/16", serviceCIDR: "10.96.0.0/12" },
    hosts: [{ name: "n1", address: "198.18.0.2", roles: ["control-plane"] }],
    ...over,
  }) as Inventory;

describe("parseDuration", () => {
  it("parses Go-style durations", () => {
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("5m")).toBe(300_000);
    expect(parseDuration("1m30s")).toBe(90_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("1h2m3s4ms")).toBe(3_723_004);
    expect(() => parseDuration("10")).toThrow(/duration/);
    expect(() => parseDuration("5 min")).toThrow(/duration/);
  });
});

describe("targetsFromInventory", () => {
  const env = { SSH_AUTH_SOCK: "/run/agent.sock" };

  it("fills the defaults", () => {
    const [t] = targetsFromInventory(inv({}), { env, baseDir: "/inv" });
    expect(t).toEqual({
      name: "n1",
      address: "198.18.0.2",
      port: 22,
      user: "root",
      auth: { agent: "/run/agent.sock" },
      sudo: { enabled: false },
      hostKeyPolicy: "accept-new",
      knownHostsFile: join(homedir(), ".kubesmith", "known_hosts"),
      connectTimeoutMs: 10_000,
      commandTimeoutMs: 600_000,
      keepaliveIntervalMs: 15_000,
      retryBudgetMs: 20_000,
    });
  });

  it("merges ssh defaults with each host's own settings; resolves paths against the inventory's directory", () => {
    const targets = targetsFromInventory(
      inv({
        ssh: {
          user: "admin",
          identityFile: "keys/id_ed25519",
          passphrase: "pp",
          knownHostsFile: "state/known_hosts",
          hostKeyPolicy: "strict",
          connectTimeout: "3s",
          commandTimeout: "1m30s",
          connectRetries: 1,
          bastion: { address: "198.18.0.1", user: "jump" },
        },
        hosts: [
          { name: "a", address: "198.18.0.2", roles: ["worker"] },
          {
            name: "b",
            address: "198.18.0.3",
            port: 2222,
            user: "root",
            roles: ["worker"],
            ssh: { identityFile: "~/other", commandTimeout: "5s" },
          },
          { name: "c", address: "198.18.0.4", roles: ["worker"], sudo: { password: "sudo-pw" }, ssh: { agent: true } },
        ],
      }),
      { baseDir: "/inv", env },
    );
    const [a, b, c] = targets;
    expect(a).toMatchObject({
      user: "admin",
      port: 22,
      auth: { privateKeyPath: "/inv/keys/id_ed25519", passphrase: "pp" },
      sudo: { enabled: true },
      hostKeyPolicy: "strict",
      knownHostsFile: "/inv/state/known_hosts",
      connectTimeoutMs: 3000,
      commandTimeoutMs: 90_000,
      connectRetries: 1,
    });
    expect(a?.bastion).toMatchObject({ name: "bastion 198.18.0.1", address: "198.18.0.1", port: 22, user: "jump", hostKeyPolicy: "strict" });
    expect(b).toMatchObject({ user: "root", port: 2222, sudo: { enabled: false }, commandTimeoutMs: 5000 });
    expect(b?.auth.privateKeyPath).toBe(join(homedir(), "other"));
    expect(c?.sudo).toEqual({ enabled: true, password: "sudo-pw" });
    expect(c?.auth).toMatchObject({ agent: "/run/agent.sock", privateKeyPath: "/inv/keys/id_ed25519" });
  });

  it("command-line overrides win", () => {
    const [t] = targetsFromInventory(inv({ ssh: { hostKeyPolicy: "strict" } }), {
      env,
      hostKeyPolicy: "off",
      knownHostsFile: "/tmp/kh",
    });
    expect(t).toMatchObject({ hostKeyPolicy: "off", knownHostsFile: "/tmp/kh" });
  });

  it("password only: no agent or key added", () => {
    const [t] = targetsFromInventory(inv({ ssh: { password: "pw" } }), { env });
    expect(t?.auth).toEqual({ password: "pw" });
  });

  it("connectTimeout and retryBudget: seconds or durations, per host too; 0 turns retries off", () => {
    const targets = targetsFromInventory(
      inv({
        ssh: { connectTimeout: 4, retryBudget: "1m" },
        hosts: [
          { name: "a", address: "198.18.0.2", roles: ["worker"] },
          { name: "b", address: "198.18.0.3", roles: ["worker"], ssh: { connectTimeout: "2500ms", retryBudget: 0 } },
          { name: "c", address: "198.18.0.4", roles: ["worker"], ssh: { connectTimeout: 0.5, connectRetries: 2 } },
        ],
      }),
      { env },
    );
    expect(targets.map((t) => [t.connectTimeoutMs, t.retryBudgetMs, t.connectRetries])).toEqual([
      [4000, 60_000, undefined],
      [2500, 0, undefined],
      [500, 60_000, 2],
    ]);
  });

  it("--connect-timeout and --retry-budget override every host's", () => {
    const i = inv({
      ssh: { connectTimeout: 4, retryBudget: 30 },
      hosts: [{ name: "a", address: "198.18.0.2", roles: ["worker"], ssh: { retryBudget: 5, bastion: { address: "198.18.0.1" } } }],
    });
    const [t] = targetsFromInventory(i, { env, connectTimeoutMs: 1500, retryBudgetMs: 3000 });
    expect(t).toMatchObject({ connectTimeoutMs: 1500, retryBudgetMs: 3000, bastion: { connectTimeoutMs: 1500, retryBudgetMs: 3000 } });
    setConnectOverrides({ retryBudgetMs: 7000 });
    try {
      const [u] = targetsFromInventory(i, { env });
      expect(u).toMatchObject({ connectTimeoutMs: 4000, retryBudgetMs: 7000 });
    } finally {
      setConnectOverrides({});
    }
    expect(targetsFromInventory(i, { env })[0]).toMatchObject({ connectTimeoutMs: 4000, retryBudgetMs: 5000 });
  });
});

describe("parseSeconds", () => {
  it("takes seconds or a duration", () => {
    expect(parseSeconds("10")).toBe(10_000);
    expect(parseSeconds("2.5")).toBe(2500);
    expect(parseSeconds("0")).toBe(0);
    expect(parseSeconds("500ms")).toBe(500);
    expect(parseSeconds("1m30s")).toBe(90_000);
    expect(parseSeconds("-1")).toBeUndefined();
    expect(parseSeconds("ten")).toBeUndefined();
    expect(parseSeconds("")).toBeUndefined();
  });
});

describe("the proxy's credentials", () => {
  it("are redacted from every host's log like the host's own secrets; no proxy or none in the URL: nothing extra", async () => {
    // The runner adds a target's logSecrets to the run's one list (ssh/connection.ts addTargetSecrets).
    const env = { SSH_AUTH_SOCK: "/run/agent.sock" };
    const [t] = targetsFromInventory(inv({ proxy: { http: "http://alice:s3cret%40pw@proxy.example:3128" } }), { env });
    expect(t!.logSecrets).toEqual(expect.arrayContaining(["http://alice:s3cret%40pw@proxy.example:3128", "alice:s3cret%40pw", "s3cret%40pw", "s3cret%%40pw"]));
    expect(targetsFromInventory(inv({ proxy: { http: "http://proxy.example:3128" } }), { env })[0]!.logSecrets ?? []).toEqual([]);
    expect(targetsFromInventory(inv({}), { env })[0]!.logSecrets).toBeUndefined();
  });
});
