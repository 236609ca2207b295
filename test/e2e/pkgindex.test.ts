// The package index on a small mixed lab (1 control plane debian-12, 1 worker ubuntu-24.04, 1 frontend
// rocky-9), read from each host's simulated command log: a fresh `up` refreshes it exactly once per host
// (apt-get update on Debian/Ubuntu, dnf makecache on Rocky) although three steps of prepare, keepalived
// and the edge bundle install packages; a converged `up` refreshes nothing. Transient failures played by
// the lab's faults (a held apt lock, a mirror's 503, a dropped connection) are waited out, each try in the
// host's log; a real error (apt: "Unable to locate package") fails at once, tried once.
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setLabFaults } from "../../src/lab/lab.js";
import type { LabHost } from "../../src/lab/types.js";
import { kubesmith as runCli, type RunResult as Run } from "../helpers/cli.js";
import { labSkip, ssh, startLab, type StartedLab } from "../helpers/lab.js";

let work = "";
const kubesmith = (args: string[]): Promise<Run> => runCli(args, { cwd: work, env: { CI: "true" } });

interface Logged {
  argv: string[];
  exitCode: number | null;
  fault?: string;
}

/** The simulator's command log of a host (every simulated command, probes included). */
function commands(h: LabHost): Logged[] {
  return readFileSync(join(h.dir, "commands.log"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Logged);
}
const is = (c: Logged, ...words: string[]) => words.every((w, i) => c.argv[i] === w);
const refreshes = (cs: Logged[]) => cs.filter((c) => !c.fault && (is(c, "apt-get", "update") || is(c, "dnf", "makecache")));
const installs = (cs: Logged[]) => cs.filter((c) => is(c, "apt-get", "install") || is(c, "dnf", "install"));

/** Every per-host command log kubesmith wrote under the state dir, joined. */
function hostLogs(dir: string, host: string): string {
  let out = "";
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name === `${host}.log`) out += readFileSync(join(d, e.name), "utf8");
    }
  };
  walk(dir);
  return out;
}

describe.skipIf(labSkip)("package index and transient failures on a lab of debian-12, ubuntu-24.04, rocky-9", () => {
  let lab: StartedLab;
  let cp: LabHost;
  let worker: LabHost;
  let fe: LabHost;
  const args = () => ["-i", lab.inventoryPath, "--state-dir", join(work, "state"), "-o", "json"];

  beforeAll(async () => {
    lab = await startLab({ name: "pkgidx", layout: "1cp,1w,1fe", os: ["debian-12", "ubuntu-24.04", "rocky-9"] });
    [cp, worker, fe] = lab.state.hosts as [LabHost, LabHost, LabHost];
    work = mkdtempSync(join(tmpdir(), "kubesmith-pkgidx-"));
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
  });

  it("fresh up: one index refresh per host, and the transient failures are tried again until they pass", async () => {
    setLabFaults(lab.state.name, [
      { host: worker.name, command: "apt-get update", transient: "lock", times: 2 },
      { host: cp.name, command: "apt-get install", transient: "503", times: 1 },
      { host: fe.name, command: "dnf install", transient: "reset", times: 1 },
    ]);
    const r = await kubesmith(["up", ...args()]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);

    const byHost = new Map([cp, worker, fe].map((h) => [h.name, commands(h)]));
    // prepare, keepalived (control plane VIP, edge VIP on the frontend) all install; one refresh each
    expect(refreshes(byHost.get(cp.name)!).map((c) => c.argv.slice(0, 2).join(" "))).toEqual(["apt-get update"]);
    expect(refreshes(byHost.get(worker.name)!).map((c) => c.argv.slice(0, 2).join(" "))).toEqual(["apt-get update"]);
    expect(refreshes(byHost.get(fe.name)!).map((c) => c.argv.slice(0, 2).join(" "))).toEqual(["dnf makecache"]);
    for (const h of [cp, worker, fe]) expect(installs(byHost.get(h.name)!).filter((c) => !c.fault).length, h.name).toBeGreaterThanOrEqual(3);

    // the faults happened, and were tried again
    expect(byHost.get(worker.name)!.filter((c) => is(c, "apt-get", "update") && c.fault === "transient lock").length).toBe(2);
    expect(byHost.get(cp.name)!.filter((c) => is(c, "apt-get", "install") && c.fault === "transient 503").length).toBe(1);
    expect(byHost.get(fe.name)!.filter((c) => is(c, "dnf", "install") && c.fault === "transient reset").length).toBe(1);
    const state = join(work, "state");
    expect(hostLogs(state, worker.name)).toContain("refresh package index (try 2 of 5: package manager lock held by another process)");
    expect(hostLogs(state, worker.name)).toContain("refresh package index (try 3 of 5: package manager lock held by another process)");
    expect(hostLogs(state, cp.name)).toContain("base-packages (try 2 of 5: mirror answered HTTP 5xx)");
    expect(hostLogs(state, fe.name)).toContain("base-packages (try 2 of 5: connection reset)");
  }, 900_000);

  it("a converged up refreshes no index and installs nothing", async () => {
    const before = new Map([cp, worker, fe].map((h) => [h.name, commands(h).length]));
    const r = await kubesmith(["up", ...args()]);
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    for (const h of [cp, worker, fe]) {
      const fresh = commands(h).slice(before.get(h.name));
      expect(refreshes(fresh), h.name).toEqual([]);
      expect(installs(fresh), h.name).toEqual([]);
    }
  }, 600_000);

  it("a real error is not tried again: the run stops at the step with apt's message", async () => {
    // socat gone from the worker: base-packages must install it, and apt cannot find it
    expect((await ssh(lab.state, worker.name, "apt-get purge -y socat")).code).toBe(0);
    setLabFaults(lab.state.name, [{ host: worker.name, command: "apt-get install", fail: "E: Unable to locate package socat", exitCode: 100 }]);
    const before = commands(worker).length;
    const r = await kubesmith(["up", ...args()]);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(new RegExp(`${worker.name}.*'base-packages'.*exit code 100: E: Unable to locate package socat`));
    const fresh = commands(worker).slice(before);
    expect(installs(fresh).length).toBe(1);
    // a new run: its own refresh, once
    expect(refreshes(fresh).length).toBe(1);
    setLabFaults(lab.state.name, []);
  }, 600_000);
});
