// `kubesmith check` end to end: the built CLI against a lab of real sshd hosts, as a user runs it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../../src/errors.js";
import { kubesmith as runCli, type RunResult as Run } from "../helpers/cli.js";
import { labSkip, ssh, startLab, type StartedLab } from "../helpers/lab.js";

function kubesmith(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return runCli(args, { env });
}

/** No stack trace, every line starts with "kubesmith:". */
function expectCleanErrors(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at /m);
  for (const line of stderr.trim().split("\n")) expect(line).toMatch(/^(kubesmith|warning):/);
}

describe.skipIf(labSkip)("kubesmith check against the lab", () => {
  let lab: StartedLab;
  let work: string;
  let stateDir: string;

  beforeAll(async () => {
    lab = await startLab({ name: "e2echeck", layout: "1cp,3w,1fe", os: ["debian-12", "ubuntu-24.04", "rocky-9", "debian-12", "ubuntu-24.04"] });
    work = mkdtempSync(join(tmpdir(), "kubesmith-check-"));
    stateDir = join(work, "state");
  }, 120_000);
  afterAll(async () => {
    await lab?.down();
  });

  /** A copy of the lab inventory with some text replaced. */
  function variant(name: string, edit: (text: string) => string): string {
    const file = join(work, `${name}.yaml`);
    writeFileSync(file, edit(readFileSync(lab.inventoryPath, "utf8")));
    return file;
  }

  it("prints correct facts for every host and exits 0", async () => {
    const r = await kubesmith(["check", "-i", lab.inventoryPath, "--state-dir", stateDir, "-o", "json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as { hosts: { name: string; address: string; facts: Record<string, unknown>; findings: unknown[] }[] };
    expect(report.hosts).toHaveLength(5);
    const want = { "debian-12": ["debian", /^12$/], "ubuntu-24.04": ["ubuntu", /^24\.04$/], "rocky-9": ["rocky", /^9\.\d+$/] } as const;
    const nproc = Number(execFileSync("nproc", { encoding: "utf8" }).trim());
    for (const [i, h] of report.hosts.entries()) {
      const labHost = lab.state.hosts[i]!;
      expect(h.name).toBe(labHost.name);
      expect(h.facts.hostname).toBe(labHost.name);
      expect(h.facts.osId).toBe(want[labHost.os][0]);
      expect(h.facts.osVersion).toMatch(want[labHost.os][1]);
      expect(h.facts.cpus).toBe(nproc);
      expect(h.facts.kubeadmState).toBe("none");
      expect(h.facts.packageManager).toBe(labHost.os === "rocky-9" ? "dnf" : "apt");
    }
    // every host is its own machine: distinct product_uuid (machine-id) and MACs
    expect(new Set(report.hosts.map((h) => h.facts.productUuid)).size).toBe(5);
    // and the table form shows the same hosts
    const t = await kubesmith(["check", "-i", lab.inventoryPath, "--state-dir", stateDir]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/^HOST\s+ADDRESS\s+ROLES\s+OS/);
    for (const h of lab.state.hosts) expect(t.stdout).toMatch(new RegExp(`^${h.name}\\s+${h.address.replace(/\./g, "\\.")}\\s`, "m"));
  });

  it("writes a per-host command log for the run", async () => {
    const r = await kubesmith(["check", "-i", lab.inventoryPath, "--state-dir", stateDir]);
    expect(r.code).toBe(0);
    const runs = execFileSync("sh", ["-c", `ls -d ${stateDir}/${lab.state.name}/runs/*-check/hosts/${lab.state.hosts[0]!.name}.log`], { encoding: "utf8" });
    const log = readFileSync(runs.trim().split("\n").pop()!, "utf8");
    expect(log).toMatch(/gather facts/);
  });

  it("a kubeadm-initialised host is reported as a control plane", async () => {
    const cp = lab.state.hosts[0]!;
    const init = await ssh(lab.state, cp.name, `kubeadm init --node-name ${cp.name} --apiserver-advertise-address ${cp.address} --ignore-preflight-errors=all`);
    expect(init.code, init.stderr).toBe(0);
    try {
      const r = await kubesmith(["check", "-i", lab.inventoryPath, "--state-dir", stateDir, "-o", "json"]);
      const h = (JSON.parse(r.stdout) as { hosts: { name: string; facts: { kubeadmState: string } }[] }).hosts[0]!;
      expect(h.facts.kubeadmState).toBe("control-plane");
    } finally {
      await ssh(lab.state, cp.name, "kubeadm reset -f");
    }
  });

  it("a host that is down: exit 4, one line naming it", async () => {
    const inv = variant("down", (t) => t.replace(lab.state.hosts[2]!.address, "198.18.0.254").replace(/connectTimeout: .*/, "") .replace(/^ssh:\n/m, "ssh:\n  connectTimeout: 2s\n  connectRetries: 0\n"));
    const r = await kubesmith(["check", "-i", inv, "--state-dir", stateDir]);
    expect(r.code).toBe(ExitCode.Unreachable);
    expectCleanErrors(r.stderr);
    expect(r.stderr).toMatch(new RegExp(`^kubesmith: ${lab.state.hosts[2]!.name}: .*(unreachable|timed out|no route|refused|connect)`, "im"));
    // the other hosts were still checked
    expect(r.stdout).toMatch(new RegExp(`^${lab.state.hosts[0]!.name}\\s.*\\sok`, "m"));
    expect(r.stdout).toMatch(new RegExp(`^${lab.state.hosts[2]!.name}\\s.*\\s(UNREACHABLE|TIMEOUT)\\s*$`, "m"));
  });

  it("a wrong key: exit 5, naming the host", async () => {
    const key = join(work, "wrong_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
    const inv = variant("wrongkey", (t) => t.replace(lab.state.keyFile, key));
    const r = await kubesmith(["check", "-i", inv, "--state-dir", stateDir]);
    expect(r.code).toBe(ExitCode.Auth);
    expectCleanErrors(r.stderr);
    expect(r.stderr).toMatch(new RegExp(`^kubesmith: ${lab.state.hosts[0]!.name}: .*auth`, "im"));
    // labelled by its cause, not "UNREACHABLE"
    expect(r.stdout).toMatch(new RegExp(`^${lab.state.hosts[0]!.name}\\s.*\\sAUTH FAILED\\s*$`, "m"));
    expect(r.stdout).not.toMatch(/UNREACHABLE/);
  });

  it("a missing identity file: exit 5, KEY FILE, and one line for all the hosts that use it", async () => {
    const missing = join(work, "no_such_key");
    const inv = variant("nokey", (t) => t.replace(lab.state.keyFile, missing));
    const r = await kubesmith(["check", "-i", inv, "--state-dir", stateDir]);
    expect(r.code).toBe(ExitCode.Auth);
    expectCleanErrors(r.stderr);
    const lines = r.stderr.trim().split("\n").filter((l) => l.includes(missing));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(lab.state.hosts.map((h) => h.name).join(", "));
    for (const h of lab.state.hosts) expect(r.stdout).toMatch(new RegExp(`^${h.name}\\s.*\\sKEY FILE\\s*$`, "m"));
  });

  it("a changed host key: exit 6, naming host and both fingerprints", async () => {
    const target = lab.state.hosts[1]!;
    const kh = join(work, "known_hosts_changed");
    const other = join(work, "other_hostkey");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    const otherPub = readFileSync(`${other}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
    const lines = readFileSync(lab.state.knownHostsFile, "utf8")
      .split("\n")
      .map((l) => (l.startsWith(`${target.address} `) && l.includes("ssh-ed25519") ? `${target.address} ${otherPub}` : l));
    writeFileSync(kh, lines.join("\n"));
    const inv = variant("changed", (t) => t.replace(lab.state.knownHostsFile, kh).replace(/hostKeyPolicy: \S+/, "hostKeyPolicy: accept-new"));
    const r = await kubesmith(["check", "-i", inv, "--state-dir", stateDir]);
    expect(r.code).toBe(ExitCode.HostKey);
    expectCleanErrors(r.stderr);
    expect(r.stdout).toMatch(new RegExp(`^${target.name}\\s.*\\sHOST KEY CHANGED\\s*$`, "m"));
    const fpOld = execFileSync("ssh-keygen", ["-l", "-f", `${other}.pub`], { encoding: "utf8" }).split(" ")[1]!;
    expect(r.stderr).toContain(target.name);
    expect(r.stderr).toContain(fpOld);
    expect(r.stderr).toMatch(/SHA256:[A-Za-z0-9+/]{43}.*SHA256:[A-Za-z0-9+/]{43}/);
    // the changed key was not written over
    expect(readFileSync(kh, "utf8")).toContain(otherPub);
    // the error names the command that forgets the old key; after it, the host is trusted again (accept-new)
    expect(r.stderr).toContain(`kubesmith hostkeys forget -i ${inv} ${target.name}`);
    const typo = await kubesmith(["hostkeys", "forget", "-i", inv, "no-such-host"]);
    expect(typo.code).toBe(ExitCode.Usage);
    expect(typo.stderr).toMatch(/no host named 'no-such-host'/);
    const forget = await kubesmith(["hostkeys", "forget", "-i", inv, target.name]);
    expect(forget.code, forget.stderr).toBe(0);
    expect(readFileSync(kh, "utf8")).not.toContain(otherPub);
    const again = await kubesmith(["check", "-i", inv, "--state-dir", stateDir]);
    expect(again.code, again.stderr).toBe(0);
  });

  it("a bad inventory: exit 3 with file, line and column", async () => {
    const inv = variant("bad", (t) => t.replace(/^(\s+)- worker$/m, "$1- workr"));
    const r = await kubesmith(["check", "-i", inv, "--state-dir", stateDir]);
    expect(r.code).toBe(ExitCode.Inventory);
    expectCleanErrors(r.stderr);
    expect(r.stderr).toMatch(new RegExp(`^kubesmith: ${inv.replace(/[.]/g, "\\.")}:\\d+:\\d+: hosts\\[\\d\\]\\.roles\\[0\\]: .*workr`, "m"));
  });

  it("a bad flag: exit 2", async () => {
    const r = await kubesmith(["check", "-i", lab.inventoryPath, "--concurrency", "zero"]);
    expect(r.code).toBe(ExitCode.Usage);
    expect(r.stderr).toMatch(/^kubesmith: --concurrency must be a whole number/);
  });
});
