// `kubesmith init` against a lab of four real sshd hosts, three of which go into the inventory; the fourth
// is "a live machine outside the inventory" whose address must not be taken as a VIP:
// - the VIP check (vipcheck.ts) from a host, by iputils arping and by the ip-neigh fallback, on a real
//   bridge: the outsider's address is refused naming its real MAC, the lab's free VIP is accepted;
// - scripted: a VIP in use is exit 9 with one line, nothing written;
// - in a real terminal (tmux): answers given by flags are shown and not asked, a host is added by mistake
//   and removed, one is edited, an empty address goes back, the hosts are finished from "Add another host?",
//   the live address is refused as the VIP; and Ctrl-C keeps the answers, which `--answers` resumes from.
import { copyFileSync, existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ExitCode } from "../../src/errors.js";
import { packageRoot } from "../../src/util/pkg.js";
import { parseVipCheck, vipCheckScript } from "../../src/wizard/vipcheck.js";
import { kubesmith as runCli } from "../helpers/cli.js";
import { labSkip, ssh, startLab, type StartedLab } from "../helpers/lab.js";
import { missingReason } from "../helpers/requirements.js";
import { ensureCliBuilt, firstHost, Terminal } from "./helpers.js";

interface Inv {
  cluster: Record<string, unknown>;
  hosts: { name: string; address: string; roles: string[] }[];
}

const re = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const NO_ARPING = missingReason("arping");

describe.skipIf(labSkip)("init: VIPs checked on the network, going back, pre-filled answers", () => {
  let lab: StartedLab;
  let work: string;
  let addr: (i: number) => string;
  /** The outsider (lab host 4, not in any inventory here): its address and real MAC. */
  let outsider: string;
  let outsiderMac: string;
  let freeVip: string;
  let kh: string;
  const kubesmith = (args: string[]) => runCli(args, { cwd: work, env: { CI: "true" } });
  const cli = () => join(packageRoot(), "dist", "cli.js");

  beforeAll(async () => {
    await ensureCliBuilt();
    lab = await startLab({ name: "wiznav", layout: "2cp,2w" });
    work = mkdtempSync(join(tmpdir(), "kubesmith-wiznav-"));
    addr = (i) => lab.state.hosts[i]!.address;
    outsider = addr(3);
    outsiderMac = (await ssh(lab.state, outsider, "cat /sys/class/net/eth0/address")).stdout.trim();
    expect(outsiderMac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    freeVip = lab.state.vips.controlPlane!;
    // the lab's own known_hosts: host keys are known, so no key question comes between the ones tested here
    kh = join(work, "known_hosts");
    copyFileSync(lab.state.knownHostsFile, kh);
  }, 180_000);
  afterAll(async () => {
    await lab?.down();
  });

  it.skipIf(!!NO_ARPING)(`arping from a host: the outsider's address answers with its MAC, the free VIP does not${NO_ARPING ?? ""}`, async () => {
    const taken = await ssh(lab.state, addr(0), vipCheckScript(outsider, "eth0"));
    expect(parseVipCheck(taken.stdout, outsider)).toEqual({ method: "arping", taken: true, mac: outsiderMac });
    const free = await ssh(lab.state, addr(0), vipCheckScript(freeVip, "eth0"));
    expect(parseVipCheck(free.stdout, freeVip)).toEqual({ method: "arping", taken: false });
  });

  it("without arping on the host (PATH without it): the ip-neigh fallback finds the same", async () => {
    // A PATH holding only what the fallback uses: the real ip, bash, timeout and grep, no arping.
    const bin = "/tmp/kubesmith-noarping";
    const setup = `mkdir -p ${bin} && for p in ip bash timeout grep; do ln -sf "$(command -v $p)" ${bin}/$p; done`;
    expect((await ssh(lab.state, addr(0), setup)).code).toBe(0);
    const run = (vip: string) => ssh(lab.state, addr(0), `PATH=${bin} /bin/sh -s`, { input: vipCheckScript(vip, "eth0") });
    const taken = await run(outsider);
    expect(parseVipCheck(taken.stdout, outsider), taken.stdout + taken.stderr).toEqual({ method: "neigh", taken: true, mac: outsiderMac });
    const free = await run(freeVip);
    expect(parseVipCheck(free.stdout, freeVip), free.stdout + free.stderr).toEqual({ method: "neigh", taken: false });
  });

  it("scripted: a VIP someone answers for is exit 9, one line naming the MAC, nothing written; a free one is accepted", async () => {
    const args = (vip: string, out: string) => [
      "init", "--name", "wiz-vip",
      "--host", `cp1=${addr(0)}:cp`, "--host", `cp2=${addr(1)}:cp`, "--host", `w1=${addr(2)}:worker`,
      "--cp-vip", vip, "--addons", "none",
      "--identity-file", lab.state.keyFile, "--known-hosts", kh, "--connect-timeout", "5", "-o", out,
    ];
    const r = await kubesmith(args(outsider, "taken.yaml"));
    expect(r.code, r.stderr).toBe(ExitCode.Preflight);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^kubesmith: controlPlaneEndpoint\\.vip: ${re(outsider)} is in use: ${re(outsiderMac)} answered (arping|ARP \\(ip neigh\\)) from cp1 on eth0`));
    expect(existsSync(join(work, "taken.yaml"))).toBe(false);

    // a second address of the host that asks: it does not answer its own DAD probe, so the addresses
    // the hosts reported are compared first
    const second = `${addr(0).replace(/\.\d+$/, "")}.77`;
    expect((await ssh(lab.state, addr(0), `ip addr add ${second}/24 dev eth0`)).code).toBe(0);
    try {
      const own = await kubesmith(args(second, "own.yaml"));
      expect(own.code, own.stderr).toBe(ExitCode.Preflight);
      expect(own.stderr.trim()).toMatch(new RegExp(`^kubesmith: controlPlaneEndpoint\\.vip: ${re(second)} is already an address of cp1 \\(eth0\\); a VIP must be`));
      expect(existsSync(join(work, "own.yaml"))).toBe(false);
    } finally {
      await ssh(lab.state, addr(0), `ip addr del ${second}/24 dev eth0`);
    }

    const ok = await kubesmith(args(freeVip, "free.yaml"));
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^${re(freeVip)}: free \\(nobody answered .* for ${re(freeVip)} from cp1 on eth0\\)$`, "m"));
    const inv = parse(readFileSync(join(work, "free.yaml"), "utf8")) as Inv;
    expect(inv.cluster.controlPlaneEndpoint).toEqual({ vip: freeVip, interface: "eth0" });
  });

  it("in a terminal: pre-filled answers shown not asked; add, go back, edit, remove, finish; the live address refused as VIP", async () => {
    const term = new Terminal(
      `env -u CI -u SSH_AUTH_SOCK ${process.execPath} ${cli()} init -o nav.yaml --known-hosts ${kh} --identity-file ${lab.state.keyFile} ` +
        `--name wiz-nav --host cp1=${addr(0)}:cp --addons none --connect-timeout 5; echo KS-EXIT=$?; sleep 600`,
      { cwd: work },
    );
    /** Pick the n-th choice of the active select prompt. */
    const pick = async (prompt: RegExp, n: number) => {
      await term.prompt(prompt);
      await term.answer(() => term.keys(String(n), "Enter"));
    };
    const nodeName = async (name: string) => {
      await term.prompt(/Node name/);
      await term.answer(() => {
        term.keys("C-u");
        term.type(name);
      });
    };
    /** A new host with the first host's SSH settings: address, role (1 control plane, 2 worker), node name. */
    const newHost = async (address: string, role: 1 | 2, name: string) => {
      await pick(/Add another host\?/, 1);
      await term.prompt(/Same SSH settings as /);
      await term.answer(() => term.keys("Enter"));
      await term.prompt(/Address \(IPv4 or DNS name; empty goes back/);
      await term.answer(() => term.type(address));
      await term.waitFor(new RegExp(`✓ Debian GNU/Linux 12 .*; eth0 ${re(address)}/24`));
      await pick(new RegExp(`Roles of ${re(address)}`), role);
      await nodeName(name);
    };
    try {
      // given by flags: shown as answered, never asked
      await term.waitFor(/^✔ Cluster name wiz-nav \(--name\)$/m);
      await term.prompt(/Kubernetes version/);
      await term.answer(() => term.keys("Enter"));
      await term.waitFor(new RegExp(`^✔ Address ${re(addr(0))} \\(--host\\)$`, "m"));
      await term.waitFor(new RegExp(`^✔ SSH root, key ${re(lab.state.keyFile)}, port 22 \\(--identity-file\\)$`, "m"));
      await term.waitFor(new RegExp(`✓ Debian GNU/Linux 12 .*; eth0 ${re(addr(0))}/24`));
      await term.waitFor(new RegExp(`^✔ Roles of ${re(addr(0))} control-plane \\(--host\\)$`, "m"));
      await term.waitFor(/^✔ Node name cp1 \(--host\)$/m);

      // a host at a wrong address (the outsider), entered as a worker
      await newHost(outsider, 2, "oops");
      // an empty address goes back to the host list
      await pick(/Add another host\?/, 1);
      await term.prompt(/Same SSH settings as /);
      await term.answer(() => term.keys("Enter"));
      await term.prompt(/Address \(IPv4 or DNS name; empty goes back/);
      await term.answer(() => term.keys("Enter"));
      await term.waitFor(/^ {2}\(no host added\)$/m);
      await newHost(addr(2), 2, "w1");

      // edit the wrong one: it is the second control plane, at another address
      await pick(/Add another host\?/, 2);
      await pick(/Which host\?/, 2);
      await term.waitFor(/^✔ Which host\? oops$/m);
      await pick(/oops: what now\?/, 1);
      await term.prompt(/Keep the SSH settings/);
      await term.answer(() => term.keys("Enter"));
      await term.prompt(new RegExp(`Address \\(IPv4 or DNS name\\) \\(${re(outsider)}\\)`));
      await term.answer(() => term.type(addr(1)));
      await term.waitFor(new RegExp(`✓ Debian GNU/Linux 12 .*; eth0 ${re(addr(1))}/24`));
      await pick(new RegExp(`Roles of ${re(addr(1))}`), 1);
      await nodeName("cp2");
      await term.waitFor(new RegExp(`hosts so far: cp1 \\(${re(addr(0))}, control-plane\\), cp2 \\(${re(addr(1))}, control-plane\\), w1 \\(${re(addr(2))}, worker\\)$`, "m"));

      // one more by mistake, removed
      await newHost(outsider, 2, "gone");
      await pick(/Add another host\?/, 2);
      await pick(/Which host\?/, 4);
      await pick(/gone: what now\?/, 2);
      await term.waitFor(new RegExp(`^ {2}removed gone \\(${re(outsider)}\\)$`, "m"));

      // finished from the prompt
      await pick(/Add another host\?/, 3);
      // frontends: asked for the hosts the flags did not give (cp2, w1), not for cp1
      await term.prompt(/Which nodes are frontend/);
      expect(term.screen()).not.toMatch(/^\s*[◯◉] cp1 /m);
      await term.answer(() => term.keys("Enter"));
      await term.prompt(/2 control planes share one API address/);
      await term.answer(() => term.keys("Enter"));

      // the outsider's address answers ARP from cp1: refused, naming its MAC; asked again
      await term.prompt(/Control-plane VIP/);
      term.type(outsider);
      await term.waitFor(new RegExp(`^> ${re(outsider)} is in use: ${re(outsiderMac)} answered (arping|ARP \\(ip neigh\\)) from cp1 on eth0; choose another address`, "m"), 30_000);
      term.keys("C-u");
      await term.answer(() => term.type(freeVip), 30_000);
      await term.waitFor(new RegExp(`✓ ${re(freeVip)} is free: nobody answered`));
      await term.prompt(/Interface that carries it \(eth0\)/);
      await term.answer(() => term.keys("Enter"));
      await term.waitFor(/^✔ Add-ons none \(--addons\)$/m);
      await term.prompt(/Pod network/);
      await term.answer(() => term.keys("Enter"));
      await term.prompt(/Service network/);
      await term.answer(() => term.keys("Enter"));
      await term.prompt(/Write the inventory to \(nav\.yaml\)/);
      await term.answer(() => term.keys("Enter"));
      await term.prompt(/Run 'kubesmith up -i nav\.yaml' now\?/);
      await term.answer(() => term.type("n"));
      const exit = await term.waitFor(/^KS-EXIT=(\d+)$/m);
      const screen = term.screen();
      expect(exit[1], screen).toBe("0");

      // the questions the flags answered were never asked: each shows once, as given
      expect(screen.match(/^✔ Cluster name .*$/gm)).toEqual(["✔ Cluster name wiz-nav (--name)"]);
      expect(screen.match(new RegExp(`^✔ Roles of ${re(addr(0))} .*$`, "gm"))).toEqual([`✔ Roles of ${addr(0)} control-plane (--host)`]);
      expect(screen.match(/^✔ Add-ons .*$/gm)).toEqual(["✔ Add-ons none (--addons)"]);

      const inv = parse(readFileSync(join(work, "nav.yaml"), "utf8")) as Inv;
      expect(inv.cluster).toMatchObject({ name: "wiz-nav", controlPlaneEndpoint: { vip: freeVip, interface: "eth0" } });
      expect(inv.hosts).toEqual([
        { name: "cp1", address: addr(0), roles: ["control-plane"] },
        { name: "cp2", address: addr(1), roles: ["control-plane"] },
        { name: "w1", address: addr(2), roles: ["worker"] },
      ]);
      const v = await kubesmith(["inventory", "validate", "-i", "nav.yaml"]);
      expect(v.code, v.stderr).toBe(0);
    } finally {
      term.close();
    }
  }, 240_000);

  it("in a terminal, every answer given by flags: only the hosts' menu is asked, and a --cp-vip in use is refused and asked again", async () => {
    const term = new Terminal(
      `env -u CI -u SSH_AUTH_SOCK ${process.execPath} ${cli()} init -o cpvip.yaml --known-hosts ${kh} --identity-file ${lab.state.keyFile} ` +
        `--name wiz-cpvip --kubernetes-version 1.35 --host cp1=${addr(0)}:cp --host cp2=${addr(1)}:cp --cp-vip ${outsider} --addons none ` +
        `--pod-cidr 10.244.0.0/16 --service-cidr 10.96.0.0/12 --connect-timeout 5; echo KS-EXIT=$?; sleep 600`,
      { cwd: work },
    );
    try {
      await term.prompt(/Add another host\?/, 40_000);
      await term.answer(() => term.keys("Enter")); // default: the hosts are complete
      await term.waitFor(new RegExp(`^ {2}✗ ${re(outsider)} \\(--cp-vip\\): ${re(outsider)} is in use: ${re(outsiderMac)} answered .* from cp1 on eth0; choose another address$`, "m"), 30_000);
      await term.prompt(/Control-plane VIP/);
      await term.answer(() => term.type(freeVip), 30_000);
      await term.prompt(/Interface that carries it \(eth0\)/);
      await term.answer(() => term.keys("Enter"));
      await term.prompt(/Write the inventory to \(cpvip\.yaml\)/);
      await term.answer(() => term.keys("Enter"));
      await term.prompt(/Run 'kubesmith up/);
      await term.answer(() => term.type("n"));
      const exit = await term.waitFor(/^KS-EXIT=(\d+)$/m);
      const screen = term.screen();
      expect(exit[1], screen).toBe("0");
      // the answered questions: the flags' (shown as given) and the three asked here, nothing else
      expect(screen.split("\n").filter((l) => l.startsWith("✔ ") && !/\((--[a-z-]+)\)$/.test(l))).toEqual([
        "✔ Add another host? no, the hosts are complete: go on",
        `✔ Control-plane VIP (a free address in the control planes' network) ${freeVip}`,
        "✔ Interface that carries it eth0",
        "✔ Write the inventory to cpvip.yaml",
        "✔ Run 'kubesmith up -i cpvip.yaml' now? No",
      ]);
      expect(screen).toMatch(/^✔ Kubernetes version 1\.35 \(--kubernetes-version\)$/m);
      expect(screen).toMatch(/^✔ Service network \(CIDR\) 10\.96\.0\.0\/12 \(--service-cidr\)$/m);
    } finally {
      term.close();
    }
    const inv = parse(readFileSync(join(work, "cpvip.yaml"), "utf8")) as Inv;
    expect(inv.cluster).toMatchObject({ name: "wiz-cpvip", kubernetesVersion: "1.35", controlPlaneEndpoint: { vip: freeVip, interface: "eth0" } });
  }, 120_000);

  it("Ctrl-C keeps the answers in an answers file; init --answers on a terminal resumes, asking only what is missing", async () => {
    const keyFile = lab.state.keyFile;
    const start = (extra: string) =>
      new Terminal(`env -u CI -u SSH_AUTH_SOCK ${process.execPath} ${cli()} init -o keep.yaml --no-probe ${extra}; echo KS-EXIT=$?; sleep 600`, { cwd: work });
    let term = start(`--known-hosts ${kh}`);
    try {
      await term.prompt(/Cluster name/);
      await term.answer(() => term.type("kept"));
      await term.prompt(/Kubernetes version/);
      await term.answer(() => term.keys("Down", "Enter")); // 1.35
      await term.prompt(/Address/);
      term.keys("C-c");
      await term.prompt(/Keep the answers so far in keep\.answers\.yaml \(resume with 'kubesmith init --answers keep\.answers\.yaml'\)\?/);
      await term.answer(() => term.keys("Enter"));
      const m = await term.waitFor(/^KS-EXIT=(\d+)$/m);
      expect(m[1]).toBe(String(ExitCode.Aborted));
      expect(term.screen()).toMatch(/^kubesmith: init cancelled; the answers so far are in keep\.answers\.yaml \(resume with: kubesmith init --answers keep\.answers\.yaml\)$/m);
    } finally {
      term.close();
    }
    expect(existsSync(join(work, "keep.yaml"))).toBe(false);
    expect(parse(readFileSync(join(work, "keep.answers.yaml"), "utf8"))).toEqual({ name: "kept", kubernetesVersion: "1.35", ssh: { knownHostsFile: kh } });

    term = start("--answers keep.answers.yaml");
    try {
      await term.waitFor(/^✔ Cluster name kept \(from keep\.answers\.yaml\)$/m);
      await term.waitFor(/^✔ Kubernetes version 1\.35 \(from keep\.answers\.yaml\)$/m);
      await firstHost(term, "198.18.250.10", keyFile);
      await term.prompt(/Roles of 198\.18\.250\.10/);
      await term.answer(() => term.keys("Enter"));
      await term.prompt(/Node name/);
      await term.answer(() => term.keys("Enter"));
      await term.prompt(/Add another host\?/);
      await term.answer(() => term.keys("3", "Enter"));
      await term.prompt(/Add-ons/);
      await term.answer(() => term.keys("a", "a", "Enter")); // all on, then all off
      await term.prompt(/Pod network/);
      await term.answer(() => term.keys("Enter"));
      await term.prompt(/Service network/);
      await term.answer(() => term.keys("Enter"));
      await term.prompt(/Write the inventory to \(keep\.yaml\)/);
      await term.answer(() => term.keys("Enter"));
      await term.prompt(/Run 'kubesmith up/);
      await term.answer(() => term.type("n"));
      const m = await term.waitFor(/^KS-EXIT=(\d+)$/m);
      expect(m[1], term.screen()).toBe("0");
      expect(term.screen()).not.toMatch(/^✔ Cluster name kept$/m);
    } finally {
      term.close();
    }
    const inv = parse(readFileSync(join(work, "keep.yaml"), "utf8")) as Inv;
    expect(inv.cluster).toMatchObject({ name: "kept", kubernetesVersion: "1.35" });
    expect(inv.hosts).toEqual([{ name: "cp1", address: "198.18.250.10", roles: ["control-plane"] }]);
  }, 120_000);
});
