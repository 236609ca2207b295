// Round trips per host (issue 12, "Fewer round trips"), counted from the run's own command events (one
// per remote command, upload or download: the per-host log's entries) on a lab of 1 control plane, 2
// workers and 1 frontend (keepalived-edge on it). A fresh `up` costs at most 12 remote commands on any
// host, a converged one at most 3 on every host, the one holding the cluster lock included (its facts and
// admin.conf are read in the lock's round trip; admin.conf never reaches the host's log). The prepare phase (14 Steps) costs at most 4
// commands per host fresh (one probe script, two batches around the index refresh, the refresh) and
// exactly 1 converged (the probe script), and the converged run changes nothing.
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { changesOf, kubesmith as runCli, type RunResult as Run } from "../helpers/cli.js";
import { labSkip, startLab, type StartedLab } from "../helpers/lab.js";

let work = "";
const kubesmith = (args: string[]): Promise<Run> => runCli(args, { cwd: work, env: { CI: "true" } });

interface Ev {
  kind: string;
  host?: string;
  phase?: string;
  label?: string;
}

/** Remote commands per host, and per host within the prepare phase, from a run's `-o json` events. */
function count(r: Run): { perHost: Map<string, number>; prepare: Map<string, number>; labels: Map<string, string[]> } {
  const perHost = new Map<string, number>();
  const prepare = new Map<string, number>();
  const labels = new Map<string, string[]>();
  let phase = "";
  for (const line of r.stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    const e = JSON.parse(line) as Ev;
    // a phase's shouldRun may run commands too (kubeadm init asks whether the cluster answers): those are its own
    if (e.kind === "phase-start" || e.kind === "phase-skip") phase = e.phase ?? "";
    if (e.kind === "phase-end") phase = "";
    if (e.kind !== "command" || !e.host) continue;
    perHost.set(e.host, (perHost.get(e.host) ?? 0) + 1);
    labels.set(e.host, [...(labels.get(e.host) ?? []), e.label ?? "?"]);
    if (phase.startsWith("prepare hosts")) prepare.set(e.host, (prepare.get(e.host) ?? 0) + 1);
  }
  return { perHost, prepare, labels };
}

describe.skipIf(labSkip)("remote commands per host on a lab of 1 control plane, 2 workers, 1 frontend", () => {
  let lab: StartedLab;
  const args = () => ["-i", lab.inventoryPath, "--state-dir", join(work, "state"), "-o", "json"];

  beforeAll(async () => {
    lab = await startLab({ name: "trips", layout: "1cp,2w,1fe" });
    work = mkdtempSync(join(tmpdir(), "kubesmith-trips-"));
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
  });

  it("fresh up: at most 12 remote commands on any host; prepare at most 4", async () => {
    const r = await kubesmith(["up", ...args()]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const { perHost, prepare, labels } = count(r);
    expect([...perHost.keys()].sort()).toEqual(lab.state.hosts.map((h) => h.name).sort());
    for (const [host, n] of perHost) expect(n, `${host}: ${labels.get(host)!.join(" | ")}`).toBeLessThanOrEqual(12);
    for (const h of lab.state.hosts) expect(prepare.get(h.name), `${h.name}: ${labels.get(h.name)!.join(" | ")}`).toBeLessThanOrEqual(4);
  }, 900_000);

  it("converged up: at most 3 remote commands per host, the lock's host included; prepare exactly 1; no change", async () => {
    const r = await kubesmith(["up", ...args()]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    expect(changesOf(r)).toEqual([]);
    const { perHost, prepare, labels } = count(r);
    const lockHost = [...labels].find(([, ls]) => ls.includes("take the cluster lock"))?.[0];
    expect(lockHost).toBe(lab.state.hosts[0]!.name);
    for (const [host, n] of perHost) expect(n, `${host}: ${labels.get(host)!.join(" | ")}`).toBeLessThanOrEqual(3);
    for (const h of lab.state.hosts) expect(prepare.get(h.name), h.name).toBe(1);
    // the lock's round trip brought admin.conf: its client key is in no log of the run
    const runDir = (JSON.parse(r.stdout.split("\n").find((l) => l.includes('"run-start"'))!) as { runDir: string }).runDir;
    const key = /client-key-data: (\S+)/.exec(readFileSync(join(work, "state", lab.state.name, "kubeconfig"), "utf8"))![1]!;
    for (const f of readdirSync(join(runDir, "hosts"))) expect(readFileSync(join(runDir, "hosts", f), "utf8")).not.toContain(key.slice(0, 40));
    expect(readFileSync(join(runDir, "hosts", `${lockHost}.log`), "utf8")).toMatch(/@@kubesmith-admin-conf\n\s*\[\d+ bytes not logged\]/);
  }, 600_000);
});
