// Faults end to end against the lab (1 control plane, 1 worker), with the built CLI as a user runs it:
// SIGINT during kubeadm init ends the run cleanly (exit 130, one line, run-end last, report, lock
// released, the next up converges); a closed stdout (`up -o json | head -1`) ends output quietly while the
// run finishes; a remote command that times out leaves no child behind on the host, also under sudo.
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TimeoutError } from "../../src/errors.js";
import { setLabFaults } from "../../src/lab/lab.js";
import { SshRunner } from "../../src/ssh/connection.js";
import type { SshTarget } from "../../src/ssh/types.js";
import { actWhen, jsonEvents, kubesmith as runCli, spawnCli, type RunResult as Run } from "../helpers/cli.js";
import { labSkip, ssh, startLab, waitFor, type StartedLab } from "../helpers/lab.js";

const LAB = "e2eint";
let work = "";
const kubesmith = (args: string[]): Promise<Run> => runCli(args, { cwd: work, env: { CI: "true" } });

const parse = jsonEvents;

describe.skipIf(labSkip)("faults: interrupts, closed pipes, timed-out commands (lab 1cp,1w)", () => {
  let lab: StartedLab;
  const args = () => ["-i", lab.inventoryPath, "--state-dir", join(work, "state"), "-o", "json"];
  const cp = () => lab.state.hosts.find((h) => h.roles.includes("control-plane"))!.name;
  const lockHeld = async () => (await ssh(lab.state, cp(), "test -e /var/lib/kubesmith/lock")).code === 0;

  beforeAll(async () => {
    lab = await startLab({ name: LAB, layout: "1cp,1w" });
    work = mkdtempSync(join(tmpdir(), "kubesmith-int-"));
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
  });

  it("SIGINT during kubeadm init: exit 130, one line, run-end last, report written, lock released; up again converges", async () => {
    setLabFaults(lab.state.name, [{ command: "kubeadm init", delayMs: 8000 }]);
    // The init change is announced just before kubeadm init runs (after its config is uploaded).
    const { code, stdout, stderr, sent } = await actWhen(
      spawnCli(["up", ...args(), "--interrupt-grace", "1s"], work),
      (events) => events.some((e) => e.kind === "change" && /^kubeadm init/.test(e.what ?? "")),
      { afterMs: 1500 },
    );
    setLabFaults(lab.state.name, []);
    expect(sent, stderr + stdout.slice(-2000)).toBe(true);
    expect(code, stderr).toBe(130);
    // the command was cut off after the 1 s grace, before the 8 s the init would have taken: init never
    // finished (no admin.conf). (Not a wall-time bound: on a loaded machine the whole run may take minutes.)
    expect((await ssh(lab.state, cp(), "test -e /etc/kubernetes/admin.conf && echo finished || echo cut-off")).stdout.trim()).toBe("cut-off");
    expect(stderr).toBe(`kubesmith: interrupted during kubeadm init on the first control plane on ${cp()}; run 'kubesmith up' again to continue\n`);
    const events = parse(stdout);
    expect(events.at(-1)).toMatchObject({ kind: "run-end", ok: false, result: "interrupted" });
    expect(events.filter((e) => e.kind === "run-end")).toHaveLength(1);
    const runDir = events.find((e) => e.kind === "run-start")!.runDir!;
    const abs = isAbsolute(runDir) ? runDir : join(work, runDir);
    expect(existsSync(join(abs, "report.html"))).toBe(true);
    const journal = parse(readFileSync(join(abs, "events.jsonl"), "utf8"));
    expect(journal.at(-1)).toMatchObject({ kind: "run-end", result: "interrupted" });
    expect(await lockHeld()).toBe(false);
    // `logs` lists the run as interrupted.
    const logs = await kubesmith(["logs", "-i", lab.inventoryPath, "--state-dir", join(work, "state")]);
    expect(logs.stdout).toMatch(/-up\s+up\s+interrupted/);

    // The next up needs no --force-unlock and converges.
    const again = await kubesmith(["up", ...args()]);
    expect(again.code, again.stderr + again.stdout.slice(-3000)).toBe(0);
    expect(parse(again.stdout).at(-1)).toMatchObject({ kind: "run-end", ok: true, result: "ok" });
    const third = await kubesmith(["up", ...args()]);
    expect(third.code, third.stderr).toBe(0);
    expect(parse(third.stdout).filter((e) => e.kind === "change")).toEqual([]);
  }, 300_000);

  it("up -o json | head -1: no EPIPE, exit 0, and the run still finishes (journal, report, lock released)", async () => {
    const runs = join(work, "state", lab.state.name, "runs");
    const before = new Set(existsSync(runs) ? readdirSync(runs) : []);
    const child = spawnCli(["up", ...args()], work);
    let first = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      first += d.toString();
      if (first.includes("\n")) child.stdout.destroy(); // the reader goes away, as head does
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((res) => child.on("close", (c) => res(c)));
    expect(stderr).not.toMatch(/EPIPE|Unhandled|at /);
    expect(code, stderr).toBe(0);
    const run = readdirSync(runs).filter((r) => !before.has(r));
    expect(run).toHaveLength(1);
    const journal = parse(readFileSync(join(runs, run[0]!, "events.jsonl"), "utf8"));
    expect(journal.at(-1)).toMatchObject({ kind: "run-end", ok: true });
    expect(existsSync(join(runs, run[0]!, "report.html"))).toBe(true);
    expect(await lockHeld()).toBe(false);
  }, 120_000);

  it("a remote command that times out leaves no child running on the host, also under sudo with a password", async () => {
    const host = lab.state.hosts.find((h) => h.roles.includes("worker"))!;
    const password = readFileSync(lab.state.passwordFile, "utf8").trim();
    const target = (user: string): SshTarget => ({
      name: host.name,
      address: host.address,
      port: 22,
      user,
      auth: { privateKeyPath: lab.state.keyFile },
      sudo: user === "root" ? { enabled: false } : { enabled: true, password },
      hostKeyPolicy: "strict",
      knownHostsFile: lab.state.knownHostsFile,
      connectTimeoutMs: 10_000,
      commandTimeoutMs: 60_000,
      keepaliveIntervalMs: 15_000,
      connectRetries: 0,
    });
    for (const user of ["kube", "root"]) {
      const secs = `3${String(Date.now() % 100_000).padStart(5, "0")}`;
      const runner = new SshRunner(target(user));
      try {
        const e = await runner
          .exec(`sleep ${secs} & (sleep ${secs}; echo never) & sh -c 'sleep ${secs}' & sleep ${secs}`, { sudo: true, timeoutMs: 1500, label: "spawn sleepers" })
          .catch((x: unknown) => x);
        expect(e, user).toBeInstanceOf(TimeoutError);
      } finally {
        await runner.close();
      }
      const gone = await waitFor(async () => (await ssh(lab.state, host.name, `pgrep -f '^sleep ${secs}$' || true`)).stdout.trim() === "", 5000, 200);
      const left = (await ssh(lab.state, host.name, `ps -o pid,pgid,user,args -p "$(pgrep -d, -f '^sleep ${secs}$' || echo 1)"`)).stdout;
      expect(gone, `${user}: sleepers left on ${host.name}:\n${left}`).toBe(true);
    }
  }, 60_000);
});
