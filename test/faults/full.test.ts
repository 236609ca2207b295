// The full fault suite (npm run faults; KUBESMITH_FAULTS=full): every scenario of issue 11 against one lab
// (1cp,2w), in an order that walks the cluster from nothing to converged and back through each fault.
// For each: the exit code, the one-line message, that nothing outside the failing step was lost (support.ts
// lost(): secrets, earlier journals, kubeconfig, this run's journal and report, the lock; plus what the
// scenario itself names), and then, with the fault removed, an `up` that converges (exit 0) and one more
// that makes 0 changes. A scenario whose convergence is shared with the next (the cluster did not exist
// yet) says so in the table.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setLabFaults } from "../../src/lab/lab.js";
import { jsonEvents, run } from "../helpers/cli.js";
import { labSkip, ssh, startLab, waitFor, type StartedLab } from "../helpers/lab.js";
import { changeHosts, changeIn, changes, FaultLab, fullSuite, lines, recordRows, rowsTable, tail, upAndAct, type Row } from "./support.js";

const INTERRUPT = ["--interrupt-grace", "1s"];
const QUICK_CONNECT = ["--connect-timeout", "2s", "--retry-budget", "1s"];

describe.skipIf(labSkip || !fullSuite)("fault suite, full (lab 1cp,2w; npm run faults)", () => {
  let lab: StartedLab;
  let f: FaultLab;
  const rows: Row[] = [];
  /** Rows whose `next up` is the next converge() call. */
  const pending: Row[] = [];
  let cp = "";
  let w1 = "";
  let w2 = "";

  beforeAll(async () => {
    lab = await startLab({ name: "ffull", layout: "1cp,2w" });
    f = new FaultLab(lab, mkdtempSync(join(tmpdir(), "kubesmith-ffull-")));
    [cp, w1, w2] = [f.host(0), f.host(1), f.host(2)];
  }, 120_000);
  afterAll(async () => {
    if (rows.length) {
      recordRows(rows);
      console.log(`\n${rowsTable(rows)}`);
    }
    setLabFaults(lab.state.name, []);
    await lab?.down();
  });

  async function row(scenario: string, r: { code: number | null; stderr: string; stdout: string }, lost: string[]): Promise<void> {
    const ls = lines(r);
    const entry: Row = { scenario, exitCode: r.code, message: ls.join(" | "), lostNothing: lost.length === 0, nextUpChanges: "?" };
    rows.push(entry);
    pending.push(entry);
  }

  /** The fault is gone: an up converges (exit 0), the next one changes nothing. */
  async function converge(inventory?: string, expectChangesOn?: string[]): Promise<void> {
    const again = await f.up([], inventory);
    expect(again.code, tail(again)).toBe(0);
    if (expectChangesOn) expect([...changeHosts(again)].every((h) => expectChangesOn.includes(h)), [...changeHosts(again)].join(",")).toBe(true);
    const third = await f.up([], inventory);
    expect(third.code, tail(third)).toBe(0);
    expect(changes(third), tail(third)).toEqual([]);
    for (const r of pending.splice(0)) r.nextUpChanges = changes(third).length;
  }

  it("wrong key: exit 5, one line", async () => {
    const key = join(f.work, "wrong_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
    const before = f.snapshot();
    const r = await f.up([], f.inventory("wrong-key.yaml", (i) => (i.ssh.identityFile = key)));
    expect(r.code, tail(r)).toBe(5);
    expect(lines(r)).toHaveLength(1);
    expect(lines(r)[0]).toMatch(new RegExp(`^${cp}: authentication as root on \\S+ failed \\(tried key ${key}\\)`));
    expect(changes(r)).toEqual([]);
    const lost = await f.lost(before, r);
    expect(lost).toEqual([]);
    await row("wrong key", r, lost);
  });

  it("changed host key of a worker: exit 6, one line", async () => {
    const other = join(f.work, "other_host_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    const pub = readFileSync(`${other}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
    const addr = lab.state.hosts[1]!.address;
    const knownFile = join(f.work, "known_hosts.changed");
    writeFileSync(knownFile, readFileSync(lab.state.knownHostsFile, "utf8").split("\n").map((l) => (l.startsWith(`${addr} `) ? `${addr} ${pub}` : l)).join("\n"));
    const before = f.snapshot();
    const r = await f.up([], f.inventory("changed-key.yaml", (i) => (i.ssh.knownHostsFile = knownFile)));
    expect(r.code, tail(r)).toBe(6);
    expect(lines(r)).toHaveLength(1);
    expect(lines(r)[0]).toMatch(new RegExp(`^${w1}: HOST KEY CHANGED for ${addr}`));
    expect(changes(r)).toEqual([]);
    const lost = await f.lost(before, r);
    expect(lost).toEqual([]);
    await row("changed host key (a worker)", r, lost);
  });

  it("a worker down before the run: exit 4, one line naming it, nothing changed", async () => {
    await f.link(2, false);
    const before = f.snapshot();
    let r;
    try {
      r = await f.up(QUICK_CONNECT);
    } finally {
      await f.link(2, true);
    }
    expect(r.code, tail(r)).toBe(4);
    expect(lines(r)).toEqual([expect.stringMatching(new RegExp(`^${w2}: (TCP connection to \\S+ timed out|no route to)`))]);
    expect(changes(r)).toEqual([]);
    const lost = await f.lost(before, r);
    expect(lost).toEqual([]);
    await row("host down before the run", r, lost);
  });

  it("SIGINT in prepare: exit 130, one line", async () => {
    // the package installs wait, so the signal lands in prepare (without a delay the phase can end within
    // the wait below, and the signal then lands in kubeadm init)
    setLabFaults(lab.state.name, [{ command: "apt-get install", delayMs: 5000 }]);
    const before = f.snapshot();
    let r;
    try {
      r = await upAndAct(f, INTERRUPT, changeIn("prepare hosts"), { afterMs: 300 });
    } finally {
      setLabFaults(lab.state.name, []);
    }
    expect(r.sent, tail(r)).toBe(true);
    expect(r.code, tail(r)).toBe(130);
    expect(lines(r)).toEqual([expect.stringMatching(/^interrupted during prepare hosts .* on lab-\d(, lab-\d)*; run 'kubesmith up' again to continue$/)]);
    expect(jsonEvents(r.stdout).at(-1)).toMatchObject({ kind: "run-end", result: "interrupted" });
    const lost = await f.lost(before, r);
    expect(lost).toEqual([]);
    await row("SIGINT in prepare", r, lost);
  });

  it("SIGINT in kubeadm init: exit 130, one line", async () => {
    setLabFaults(lab.state.name, [{ host: cp, command: "kubeadm init", delayMs: 8000 }]);
    const before = f.snapshot();
    let r;
    try {
      r = await upAndAct(f, INTERRUPT, changeIn("kubeadm init", cp), { afterMs: 1500 });
    } finally {
      setLabFaults(lab.state.name, []);
    }
    expect(r.sent, tail(r)).toBe(true);
    expect(r.code, tail(r)).toBe(130);
    expect(lines(r)).toEqual([`interrupted during kubeadm init on the first control plane on ${cp}; run 'kubesmith up' again to continue`]);
    const lost = await f.lost(before, r);
    expect(lost).toEqual([]);
    // The init's secret config went with it.
    expect((await ssh(lab.state, cp, "ls /var/lib/kubesmith/ 2>/dev/null || true")).stdout).not.toMatch(/kubeadm-init/);
    await row("SIGINT in init", r, lost);
  });

  it("a failing join (no bound): exit 7, one line, the run stops before Calico", async () => {
    setLabFaults(lab.state.name, [{ host: w2, command: "kubeadm join", fail: "[preflight] simulated: the join failed", exitCode: 1 }]);
    const before = f.snapshot();
    let r;
    try {
      r = await f.up();
    } finally {
      setLabFaults(lab.state.name, []);
    }
    expect(r.code, tail(r)).toBe(7);
    const [message, see, ...more] = lines(r);
    expect(message).toBe(`${w2}: 'kubeadm join (worker)' failed with exit code 1: [preflight] simulated: the join failed`);
    // and where its whole output is (the CLI's seeAlso line since the errors show their cause)
    expect(see).toMatch(new RegExp(`^${w2}'s whole output: kubesmith logs -i \\S+ --state-dir \\S+ --run \\S+ --host ${w2}$`));
    expect(more).toEqual([]);
    const events = jsonEvents(r.stdout);
    expect(events.some((e) => e.kind === "phase-start" && (e.phase ?? "").startsWith("Calico"))).toBe(false);
    // The other worker joined; the failed one's secret config was removed.
    expect(changes(r).some((c) => c.host === w1 && /^kubeadm join/.test(c.what ?? ""))).toBe(true);
    expect((await ssh(lab.state, w2, "ls /var/lib/kubesmith/ 2>/dev/null || true")).stdout).not.toMatch(/kubeadm-join/);
    const lost = await f.lost(before, r);
    expect(lost).toEqual([]);
    await row("failing join (no bound)", r, lost);
  });

  it("30% packet loss on a worker during up (iptables statistic in its namespace): the run copes, exit 0; without the loss the next up changes nothing", async () => {
    const ns = lab.state.hosts[2]!.namespace;
    const rule = ["INPUT", "-m", "statistic", "--mode", "random", "--probability", "0.3", "-j", "DROP"];
    const add = await run("ip", ["netns", "exec", ns, "iptables", "-A", ...rule]);
    expect(add.code, add.stderr).toBe(0);
    const before = f.snapshot();
    let r;
    try {
      r = await f.up();
    } finally {
      await run("ip", ["netns", "exec", ns, "iptables", "-D", ...rule]);
    }
    expect(r.code, tail(r)).toBe(0);
    expect(lines(r).filter((l) => !/^(logs|report):/.test(l))).toEqual([]);
    // It finished what the earlier faults left: the init, the failed join.
    expect(changeHosts(r).has(w2)).toBe(true);
    const lost = await f.lost(before, r);
    expect(lost).toEqual([]);
    await row("30 % packet loss on a worker during up", r, lost);
    await converge();
  }, 600_000);

  /** Undo a worker's join so the next up joins it again. */
  async function unjoin(host: string): Promise<void> {
    const r = await ssh(lab.state, host, "kubeadm reset -f");
    expect(r.code, r.stderr).toBe(0);
  }

  it("SIGINT in join: exit 130, one line naming the joining worker", async () => {
    await unjoin(w2);
    setLabFaults(lab.state.name, [{ host: w2, command: "kubeadm join", delayMs: 8000 }]);
    const before = f.snapshot();
    let r;
    try {
      r = await upAndAct(f, INTERRUPT, changeIn("join the workers", w2), { afterMs: 1500 });
    } finally {
      setLabFaults(lab.state.name, []);
    }
    expect(r.sent, tail(r)).toBe(true);
    expect(r.code, tail(r)).toBe(130);
    expect(lines(r)).toEqual([`interrupted during join the workers on ${w2}; run 'kubesmith up' again to continue`]);
    const lost = await f.lost(before, r);
    expect(lost).toEqual([]);
    await row("SIGINT in join", r, lost);
    await converge(undefined, [w2]);
  }, 600_000);

  it("sshd killed mid-join with --max-failed-workers 1: the run goes on without that worker, exit 4 naming the drop", async () => {
    await unjoin(w2);
    setLabFaults(lab.state.name, [{ host: w2, command: "kubeadm join", delayMs: 6000 }]);
    const ns = lab.state.hosts[2]!.namespace;
    const killSessions = async () => {
      // The per-connection sshd processes in the worker's namespace (not the listener, which holds the
      // host's mount namespace): the connection drops as when sshd dies under it.
      const pids = (await run("ip", ["netns", "pids", ns])).stdout.split("\n").filter(Boolean);
      for (const pid of pids) {
        let cmd = "";
        try {
          cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
        } catch {
          continue;
        }
        if (/^sshd: root/.test(cmd)) {
          try {
            process.kill(Number(pid), "SIGKILL");
          } catch {
            /* gone already */
          }
        }
      }
    };
    const before = f.snapshot();
    let r;
    try {
      r = await upAndAct(f, ["--max-failed-workers", "1"], changeIn("join the workers", w2), { afterMs: 1500, act: killSessions });
    } finally {
      setLabFaults(lab.state.name, []);
    }
    expect(r.sent, tail(r)).toBe(true);
    expect(r.code, tail(r)).toBe(4);
    const ls = lines(r);
    expect(ls[0]).toBe("up finished without 1 of 2 worker(s) (at most 1 may fail); run 'kubesmith up' again to finish them");
    expect(ls[1]).toMatch(new RegExp(`^${w2}: the SSH connection dropped during 'kubeadm join \\(worker\\)'`));
    expect(ls).toHaveLength(2);
    const events = jsonEvents(r.stdout);
    for (const p of ["Calico CNI, then wait for every node to be Ready", "node labels and taints"]) {
      expect(events.find((e) => e.kind === "phase-end" && e.phase === p), p).toMatchObject({ ok: true });
    }
    const lost = await f.lost(before, r);
    expect(lost).toEqual([]);
    await row("sshd killed mid-join (--max-failed-workers 1)", r, lost);
    await converge(undefined, [w2]);
  }, 600_000);

  it("two concurrent runs: the second exits 12 naming the holder, the first finishes", async () => {
    const before = f.snapshot();
    const first = f.spawnUp();
    let out1 = "";
    let err1 = "";
    first.stdout.on("data", (d: Buffer) => (out1 += d.toString()));
    first.stderr.on("data", (d: Buffer) => (err1 += d.toString()));
    const done1 = new Promise<number | null>((res) => first.on("close", (c) => res(c)));
    expect(await waitFor(() => f.lockHeld(), 60_000, 100)).toBe(true);
    const second = await f.up();
    const code1 = await done1;
    expect(second.code, tail(second)).toBe(12);
    expect(lines(second).filter((l) => !/^(logs|report):/.test(l))).toHaveLength(1);
    expect(lines(second)[0]).toMatch(/lock/i);
    expect(changes(second)).toEqual([]);
    expect(code1, err1 + out1.slice(-2000)).toBe(0);
    const lost = await f.lost(before, second);
    expect(lost).toEqual([]);
    await row("two concurrent runs (the second)", second, lost);
    await converge();
  }, 600_000);

  it("SIGINT in add-ons: exit 130, one line", async () => {
    // prometheus, grafana and filebeat are on by default and already applied: a changed value gives the
    // add-ons phase an update and a rollout to wait for, and the signal comes with its first change.
    const inv = f.inventory("retention.yaml", (i) => {
      i.addons = { ...(i.addons ?? {}), prometheus: { values: { retention: "30d" } } };
    });
    const before = f.snapshot();
    const r = await upAndAct(f, INTERRUPT, changeIn("add-ons: apply"), { inventory: inv });
    expect(r.sent, tail(r)).toBe(true);
    expect(r.code, tail(r)).toBe(130);
    expect(lines(r)).toEqual([expect.stringMatching(/^interrupted during add-ons: apply the enabled bundles( on [^;]+)?; run 'kubesmith up' again to continue$/)]);
    const lost = await f.lost(before, r);
    expect(lost).toEqual([]);
    await row("SIGINT in add-ons", r, lost);
    await converge(inv);
  }, 600_000);

  it("every scenario was recorded", () => {
    expect(rows.map((r) => r.scenario)).toHaveLength(11);
    expect(readdirSync(join(f.stateDir, lab.state.name, "runs")).length).toBeGreaterThan(11);
  });
});
