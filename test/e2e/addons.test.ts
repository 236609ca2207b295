// Add-on bundles end to end on the lab: `up` applies every enabled bundle; each DaemonSet lands on exactly
// the intended nodes; `addons diff` right after shows nothing; a bad value is refused before any host or
// API call; the edge VIP moves when its MASTER frontend host dies (real keepalived).
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient } from "../../src/kube/client.js";
import { changesOf, jsonEvents, kubesmith as runCli, type RunResult } from "../helpers/cli.js";
import { labSkip, startLab, waitFor, type StartedLab } from "../helpers/lab.js";

let work = "";
const kubesmith = (args: string[]): Promise<RunResult> => runCli(args, { cwd: work, env: { CI: "true" } });
const events = (r: RunResult) => jsonEvents(r.stdout);

function vipHolder(lab: StartedLab, vip: string): string[] {
  return lab.state.hosts
    .filter((h) => execFileSync("ip", ["-n", h.namespace, "-4", "-o", "addr", "show"], { encoding: "utf8" }).includes(` ${vip}/`))
    .map((h) => h.name);
}

describe.skipIf(labSkip)("add-on bundles on a lab of 1 control plane, 2 workers, 2 frontend", () => {
  let lab: StartedLab;
  const args = () => ["-i", lab.inventoryPath, "--state-dir", join(work, "state")];

  beforeAll(async () => {
    lab = await startLab({ name: "e2eaddons", layout: "1cp,2w,2fe" });
    work = mkdtempSync(join(tmpdir(), "kubesmith-addons-"));
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
  });

  it("a bad value is refused before any host is touched, naming bundle and key", async () => {
    const bad = join(work, "bad.yaml");
    writeFileSync(bad, readFileSync(lab.inventoryPath, "utf8").replace("traefik:\n    enabled: true", "traefik:\n    enabled: true\n    values:\n      mode: bogus"));
    const r = await kubesmith(["up", "-o", "json", ...args().map((a) => (a === lab.inventoryPath ? bad : a))]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/addons\.traefik\.values\.mode/);
    expect(events(r).some((e) => e.kind === "phase-start" && e.phase === "connect and gather facts")).toBe(false);
  }, 60_000);

  it("up applies every enabled bundle; DaemonSets land on exactly the intended nodes; addons diff is empty", async () => {
    const r = await kubesmith(["up", "-o", "json", ...args()]);
    expect(r.code, r.stderr).toBe(0);
    expect(events(r).filter((e) => e.kind === "phase-end" && e.phase === "add-ons: apply the enabled bundles").map((e) => e.ok)).toEqual([true]);
    const kube = await KubeClient.fromKubeconfig(readFileSync(join(work, "state", lab.state.name, "kubeconfig"), "utf8"));
    try {
      const ds = await kube.list("apps/v1", "DaemonSet");
      const want: Record<string, number> = { "calico-node": 5, filebeat: 5, "prometheus-node-exporter": 5, traefik: 2 };
      for (const [name, n] of Object.entries(want)) {
        const d = ds.find((x) => x.metadata.name === name);
        expect(d, name).toBeDefined();
        const st = d!.status as { desiredNumberScheduled: number; numberAvailable: number };
        expect([name, st.desiredNumberScheduled, st.numberAvailable]).toEqual([name, n, n]);
      }
      // Traefik only on the frontend nodes
      const traefik = ds.find((x) => x.metadata.name === "traefik")!;
      const sel = (traefik.spec as { template: { spec: { nodeSelector?: Record<string, string> } } }).template.spec.nodeSelector;
      expect(sel).toEqual({ role: "frontend" });
      const deployments = await kube.list("apps/v1", "Deployment");
      for (const name of ["prometheus", "grafana"]) {
        const d = deployments.find((x) => x.metadata.name === name)!;
        expect((d.status as { availableReplicas?: number }).availableReplicas, name).toBeGreaterThanOrEqual(1);
      }
    } finally {
      kube.close();
    }
    // The add-on secrets kubesmith generated (and the VRRP password) are in secrets.json and nowhere in
    // what the run wrote: its JSON output, events.jsonl, the report, the host logs.
    const stored = JSON.parse(readFileSync(join(work, "state", lab.state.name, "secrets.json"), "utf8")) as { vrrpPass: string; addons?: Record<string, Record<string, string>> };
    const generated = Object.values(stored.addons ?? {}).flatMap((v) => Object.values(v));
    expect(generated.length, "grafana, traefik and keepalived-edge generate secrets").toBeGreaterThanOrEqual(3);
    const runs = join(work, "state", lab.state.name, "runs");
    const written = [r.stdout, r.stderr];
    for (const run of readdirSync(runs)) {
      for (const f of ["events.jsonl", "report.html"]) if (existsSync(join(runs, run, f))) written.push(readFileSync(join(runs, run, f), "utf8"));
      for (const f of readdirSync(join(runs, run, "hosts"))) written.push(readFileSync(join(runs, run, "hosts", f), "utf8"));
    }
    expect(written.some((t) => t.includes("keepalived-edge: write /etc/keepalived/keepalived.conf"))).toBe(true);
    for (const secret of [...generated, stored.vrrpPass]) {
      expect(written.filter((t) => t.includes(secret)).length, `a generated secret (${secret.length} chars) leaked`).toBe(0);
    }

    const diff = await kubesmith(["addons", "diff", ...args()]);
    expect(diff.code, diff.stderr).toBe(0);
    const lines = diff.stdout.split("\n").filter((l) => /^\s*[+~-] /.test(l));
    expect(lines).toEqual([]);
    expect(diff.stdout).toMatch(/no changes/);
  }, 300_000);

  it("addons diff of one bundle (grafana, which depends on prometheus): exit 1 with the old and new value; apply then diff: exit 0", async () => {
    const changed = join(work, "nodeport.yaml");
    writeFileSync(changed, readFileSync(lab.inventoryPath, "utf8").replace(/^addons:\n/m, "addons:\n  grafana:\n    values:\n      service:\n        nodePort: 30299\n"));
    expect(readFileSync(changed, "utf8")).toContain("nodePort: 30299");
    const withChanged = args().map((a) => (a === lab.inventoryPath ? changed : a));
    const diff = await kubesmith(["addons", "diff", "grafana", ...withChanged]);
    expect(diff.code, diff.stderr).toBe(1);
    expect(diff.stdout).toMatch(/~ Service\/monitoring\/grafana\n(\s+.*\n)*\s+spec\.ports\[0\]\.nodePort: 30200 → 30299/);
    expect(diff.stdout).not.toMatch(/^0 change\(s\)/m);
    expect(diff.stderr).toMatch(/difference\(s\) between the cluster and the render/);
    // apply it and back: a diff of the inventory as up applied it shows nothing again
    const apply = await kubesmith(["addons", "apply", "grafana", ...withChanged]);
    expect(apply.code, apply.stderr).toBe(0);
    const back = await kubesmith(["addons", "apply", "grafana", ...args()]);
    expect(back.code, back.stderr).toBe(0);
    const none = await kubesmith(["addons", "diff", "grafana", ...args()]);
    expect(none.code, none.stdout + none.stderr).toBe(0);
  }, 300_000);

  it("with no local state, grafana's password is read back from the cluster, never rotated; Traefik's (hashed) is refused", async () => {
    // Another directory, another (empty) state: what a plan from another machine sees.
    const elsewhere = mkdtempSync(join(tmpdir(), "kubesmith-nostate-"));
    const own = JSON.parse(readFileSync(join(work, "state", lab.state.name, "secrets.json"), "utf8")) as { addons: Record<string, Record<string, string>> };
    const grafanaPass = own.addons["grafana"]!["adminPassword"]!;
    const traefikPass = own.addons["traefik"]!["dashboard.password"]!;
    expect(grafanaPass && traefikPass).toBeTruthy();
    const inv = join(elsewhere, "inventory.yaml");
    writeFileSync(inv, readFileSync(lab.inventoryPath, "utf8").replace("traefik:\n    enabled: true", `traefik:\n    enabled: true\n    values:\n      dashboard:\n        password: ${traefikPass}`));
    const fromElsewhere = (a: string[], env: Record<string, string> = {}) => runCli(a, { cwd: elsewhere, env: { CI: "true", ...env } });

    // Traefik's password lives in the cluster only as an htpasswd hash: nothing to read back, so refuse.
    const refused = await fromElsewhere(["plan", "-o", "json", "-i", lab.inventoryPath], { KUBESMITH_STATE_DIR: join(elsewhere, "empty") });
    expect(refused.code, refused.stderr).toBe(13);
    expect(refused.stderr).toMatch(/traefik value dashboard\.password .*not in kubesmith's state/);
    expect(refused.stderr).toMatch(/--state-dir/);

    // With Traefik's given in the inventory: the plan changes no Secret and says where grafana's came from.
    const plan = await fromElsewhere(["plan", "-o", "json", "-i", inv]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(changesOf(plan).map((c) => c.what).filter((w) => /Secret/.test(String(w)))).toEqual([]);
    expect(events(plan).some((e) => e.kind === "warning" && /grafana: adminPassword .*kept the value the cluster uses/.test(String((e as { message?: string }).message)))).toBe(true);
    // The state now lives beside the inventory file (no --state-dir): a plan writes no secrets.
    expect(existsSync(join(elsewhere, ".kubesmith", lab.state.name, "secrets.json"))).toBe(false);

    // up from there keeps the cluster's value in the new state; $KUBESMITH_STATE_DIR is honoured.
    const state2 = join(elsewhere, "state2");
    const up = await fromElsewhere(["up", "-o", "json", "-i", inv], { KUBESMITH_STATE_DIR: state2 });
    expect(up.code, up.stderr).toBe(0);
    const kept = JSON.parse(readFileSync(join(state2, lab.state.name, "secrets.json"), "utf8")) as { addons: Record<string, Record<string, string>> };
    expect(kept.addons["grafana"]!["adminPassword"]).toBe(grafanaPass);
    expect(changesOf(up).map((c) => c.what).filter((w) => /grafana-admin/.test(String(w)))).toEqual([]);
  }, 300_000);

  it("the edge VIP moves to the other frontend when its MASTER host dies", async () => {
    const vip = lab.state.vips.edge!;
    const first = await waitFor(() => (vipHolder(lab, vip).length === 1 ? vipHolder(lab, vip) : undefined), 15_000, 100);
    expect(first, "one frontend holds the edge VIP").toHaveLength(1);
    const master = lab.state.hosts.find((h) => h.name === first![0])!;
    const t0 = performance.now();
    // Host death: its link goes down, its keepalived can no longer announce anything.
    execFileSync("ip", ["-n", master.namespace, "link", "set", "eth0", "down"]);
    try {
      const moved = await waitFor(() => vipHolder(lab, vip).some((h) => h !== master.name), 20_000, 20);
      const seconds = (performance.now() - t0) / 1000;
      expect(moved, "the VIP moved").toBe(true);
      process.stdout.write(`edge VIP failover after host death: ${seconds.toFixed(2)} s\n`);
    } finally {
      execFileSync("ip", ["-n", master.namespace, "link", "set", "eth0", "up"]);
    }
  }, 60_000);

  it("the summary at the end of up shows add-on health and who holds each VIP", async () => {
    const r = await kubesmith(["up", "--plain", ...args()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ADD-ON\s+WORKLOADS \(ready\/desired\)\s+HEALTH$/m);
    expect(r.stdout).toMatch(/^traefik\s+daemonset\/traefik 2\/2\s+healthy$/m);
    // One frontend holds it (which one may change while VRRP settles after the failover test).
    const frontends = lab.state.hosts.filter((h) => h.roles.includes("frontend")).map((h) => h.name);
    const m = new RegExp(`^edge VIP ${lab.state.vips.edge!.replace(/\./g, "\\.")}: held by (\\S+)$`, "m").exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(frontends).toContain(m![1]);
    expect(r.stdout).toMatch(/^Nothing to do|0 change\(s\)/m);
  }, 120_000);
});
