// Which control plane leads a run is decided from live facts, never hard-wired to the inventory's first:
// a rebuilt cp1 next to a running cp2 and cp3 must join their cluster, not start a second one.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { chooseLeader, type ClusterHost, type ClusterModel } from "../../src/cluster/model.js";
import type { HostFacts } from "../../src/facts/gather.js";
import { gatherFacts } from "../../src/phases/hosts.js";
import { joinControlPlanes, joinWorkers, kubeadmInit } from "../../src/phases/controlplane.js";
import type { ClusterContext } from "../../src/phases/context.js";
import type { Runner } from "../../src/ssh/types.js";
import { MemoryReporter } from "../../src/ui/events.js";
import { ApiError, UnreachableError } from "../../src/errors.js";
import { throwIfLeftOut } from "../../src/phases/reach.js";
import { forHosts } from "../../src/phases/run.js";

type State = "none" | "worker" | "control-plane";
const cp = (name: string): ClusterHost =>
  ({ name, address: name, nodeIP: name, isControlPlane: true, isWorker: false, isFrontend: false, target: {} as never, spec: { name, address: name, roles: ["control-plane"] } }) as ClusterHost;

function model(): ClusterModel {
  const cps = [cp("cp1"), cp("cp2"), cp("cp3")];
  return { name: "c", controlPlanes: cps, hosts: cps, workers: [], first: cps[0]!, endpoint: { host: "vip", port: 6443, kind: "vip" } } as unknown as ClusterModel;
}

/** A context whose hosts answer the facts script with the given kubeadm state. */
function context(states: Record<string, State>) {
  const reporter = new MemoryReporter();
  const runner = (name: string): Runner =>
    ({
      exec: async () => ({ code: 0, stdout: factsOutput(states[name]!), stderr: "" }),
    }) as unknown as Runner;
  return { ctx: fakeContext(runner, { reporter }), reporter };
}

/** A run's context over fake runners, with whatever else a test sets (model, joined, kube …). */
function fakeContext(runner: (host: string) => Runner, extra: Record<string, unknown> = {}): ClusterContext {
  return {
    model: model(),
    facts: new Map<string, HostFacts>(),
    joined: new Set<string>(),
    reporter: new MemoryReporter(),
    concurrency: 4,
    phase: "",
    changes: [],
    dryRun: false,
    runner: async (n: string) => runner(n),
    ...extra,
  } as unknown as ClusterContext;
}

/** The facts script's output (key=value lines) as parseFacts reads it, for one kubeadm state. */
function factsOutput(state: State): string {
  return [
    "os_id=debian",
    "os_version=12",
    "os_pretty=Debian GNU/Linux 12 (bookworm)",
    "arch=x86_64",
    "cpus=2",
    "mem_kib=4194304",
    "swap_kib=0",
    "kernel=6.1.0",
    "package_manager=apt",
    `kubeadm_state=${state}`,
  ].join("\n");
}

describe("the leader", () => {
  it("is the first control plane kubeadm set up; on a new cluster the inventory's first", () => {
    const m = model();
    expect(chooseLeader(m, () => "none").name).toBe("cp1");
    expect(chooseLeader(m, (h) => (h === "cp1" ? "none" : "control-plane")).name).toBe("cp2");
    expect(chooseLeader(m, (h) => (h === "cp3" ? "control-plane" : "none")).name).toBe("cp3");
    expect(chooseLeader(m, () => "control-plane").name).toBe("cp1");
  });

  it("cp1 rebuilt while cp2 and cp3 run: no second kubeadm init, cp2 leads, cp1 joins as a control plane", async () => {
    const { ctx, reporter } = context({ cp1: "none", cp2: "control-plane", cp3: "control-plane" });
    await gatherFacts.run(ctx);
    expect([...ctx.joined].sort()).toEqual(["cp2", "cp3"]);
    expect(ctx.model.first.name).toBe("cp2");
    expect(reporter.of("warning").some((w) => /cp2 leads this run and cp1 joins/.test(w.message))).toBe(true);
    ctx.kube = {} as never; // the cluster answers (requireLiveApi: an API connection is made first)
    expect(await kubeadmInit.shouldRun!(ctx)).toMatch(/the cluster exists \(cp2, cp3 are set up by kubeadm\)/);
    // the join phase covers every control plane but the leader, cp1 included
    const joined: string[] = [];
    const phase = joinControlPlanes as { run: (c: ClusterContext) => Promise<void> };
    // (an API connection already made: the joins wait for /readyz through it first)
    const spy = { ...ctx, kube: {}, runner: async (n: string) => (joined.push(n), Promise.reject(new Error("stop here"))) } as unknown as ClusterContext;
    await phase.run(spy).catch(() => {});
    expect(joined.sort()).toEqual(["cp1", "cp3"]);
  });

  it("workers joining an existing cluster in parallel share one join token, made once in its own file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ca-"));
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kubernetes", "-days", "1", "-keyout", join(dir, "ca.key"), "-out", join(dir, "ca.crt")], { stdio: "ignore" });
    const ca = readFileSync(join(dir, "ca.crt"));
    const created: string[] = [];
    const joins: string[] = [];
    const uploads: string[] = [];
    const runner = (name: string): Runner =>
      ({
        // a secret config travels on stdin into the file the script names (`cat > FILE`), in one command with its kubeadm
        exec: async (cmd: string, opts: { stdin?: string } = {}) => {
          const file = /cat > '([^']+)'/.exec(cmd)?.[1];
          if (file && opts.stdin !== undefined) uploads.push(`${file} ${opts.stdin}`);
          if (/^kubeadm token create/m.test(cmd)) {
            created.push(cmd);
            await new Promise((r) => setTimeout(r, 20)); // slow enough for the other workers to ask meanwhile
            return { code: 0, stdout: `token made\n@@kubesmith-ca\n${ca.toString("utf8")}`, stderr: "" };
          }
          if (/^kubeadm join/m.test(cmd)) joins.push(name);
          return { code: cmd.startsWith("[ -f") ? 1 : 0, stdout: "", stderr: "" };
        },
        upload: async (path: string, content: string) => void uploads.push(`${path} ${content}`),
        download: async () => ca,
      }) as unknown as Runner;
    const w = (name: string) => ({ ...cp(name), isControlPlane: false, isWorker: true, spec: { name, address: name, roles: ["worker"] } }) as ClusterHost;
    const m = model();
    const workers = [w("w1"), w("w2"), w("w3")];
    const ctx = fakeContext(runner, {
      model: { ...m, workers, hosts: [...m.controlPlanes, ...workers] },
      joined: new Set(["cp1", "cp2", "cp3"]),
      kube: { get: async () => ({}) },
    });
    await joinWorkers.run(ctx);
    expect(joins.sort()).toEqual(["w1", "w2", "w3"]);
    expect(created).toHaveLength(1);
    const tokenFiles = uploads.filter((u) => /kubeadm-token-[0-9a-f]{8}\.yaml /.test(u));
    expect(tokenFiles).toHaveLength(1);
    const token = /token: ([a-z0-9]{6}\.[a-z0-9]{16})/.exec(tokenFiles[0]!)![1]!;
    // every worker's join config carries that one token
    expect(uploads.filter((u) => u.includes("kind: JoinConfiguration")).every((u) => u.includes(token))).toBe(true);
  });

  it("a new cluster: kubeadm init runs on cp1", async () => {
    const { ctx } = context({ cp1: "none", cp2: "none", cp3: "none" });
    await gatherFacts.run(ctx);
    expect(ctx.model.first.name).toBe("cp1");
    expect(await kubeadmInit.shouldRun!(ctx)).toBe(true);
  });

  it("others joined but the cluster's API does not answer: no reset, no init, one line saying what to do", async () => {
    const { ctx } = context({ cp1: "control-plane", cp2: "control-plane", cp3: "none" });
    await gatherFacts.run(ctx);
    const dead = { ...ctx, runner: async () => ({ download: async () => Promise.reject(new Error("sftp: no such file")) }) } as unknown as ClusterContext;
    const err = await Promise.resolve(kubeadmInit.shouldRun!(dead)).then(() => undefined, (e: unknown) => e as ApiError);
    expect(err).toBeInstanceOf(ApiError);
    expect(err!.exitCode).toBe(11);
    expect(err!.oneLine()).toMatch(/^cp1: the cluster's API does not answer through vip:6443 \(sftp: no such file\), and cp2 joined this cluster, so up will not reset it or run kubeadm init: check kube-apiserver and etcd on cp1, cp2 .*then run up again$/);
    expect(err!.oneLine()).not.toContain("\n");
  });

  it("cp1 unreachable while cp2 and cp3 are set up: up goes on without it and cp2 leads; a new cluster or down stays fatal", async () => {
    const unreachable = (states: Record<string, State | "down">, command = "up") => {
      const reporter = new MemoryReporter();
      const ctx = fakeContext(
        (name) =>
          ({
            exec: async () => {
              if (states[name] === "down") throw new UnreachableError(name, "connect timed out after 2s (1 attempt)");
              return { code: 0, stdout: factsOutput(states[name] as State), stderr: "" };
            },
          }) as unknown as Runner,
        { reporter, command },
      );
      return { ctx, reporter };
    };
    const { ctx, reporter } = unreachable({ cp1: "down", cp2: "control-plane", cp3: "control-plane" });
    await gatherFacts.run(ctx);
    expect([...(ctx.unreachable?.keys() ?? [])]).toEqual(["cp1"]);
    expect(ctx.model.first.name).toBe("cp2");
    expect(reporter.of("warning").map((w) => w.message)).toContain("cp1 is unreachable and cp2 is set up by kubeadm: cp2 leads this run");
    // every later per-host step skips it
    const seen: string[] = [];
    await forHosts(ctx, ctx.model.hosts, async (h) => void seen.push(h.name));
    expect(seen.sort()).toEqual(["cp2", "cp3"]);
    // and the run ends with exit 4 naming it
    let end: unknown;
    try {
      throwIfLeftOut(ctx);
    } catch (e) {
      end = e;
    }
    expect((end as UnreachableError).exitCode).toBe(4);
    expect((end as UnreachableError).oneLine()).toBe("cp1: connect timed out after 2s (1 attempt); everything else was done through cp2: bring cp1 back and run up again");

    for (const [states, command] of [
      [{ cp1: "down", cp2: "none", cp3: "none" }, "up"],
      [{ cp1: "down", cp2: "control-plane", cp3: "control-plane" }, "down"],
    ] as const) {
      const { ctx: c } = unreachable(states, command);
      await expect(gatherFacts.run(c)).rejects.toBeInstanceOf(UnreachableError);
      expect(c.unreachable).toBeUndefined();
    }
  });
});
