// `kubesmith init` end to end against a lab of real sshd hosts (1 control plane, 1 worker, 1 frontend):
// scripted (answers file and flags, no terminal) and as a person does it, typing into a real terminal
// (tmux send-keys / capture-pane): a wrong address first, corrected; host keys confirmed; the inventory
// written, validated, checked, and `up` run from the wizard.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ExitCode } from "../../src/errors.js";
import { fingerprint, parseKnownHosts } from "../../src/ssh/knownhosts.js";
import { packageRoot } from "../../src/util/pkg.js";
import { kubesmith as runCli } from "../helpers/cli.js";
import { labSkip, startLab, type StartedLab } from "../helpers/lab.js";
import { ensureCliBuilt, firstHost, Terminal } from "./helpers.js";
import { CALICO } from "../../src/versions.js";
import { upstreamFile, upstreamSkipReason } from "../helpers/upstream.js";

interface Inv {
  cluster: Record<string, unknown> & { edgeVIP?: { vip: string; interface: string } };
  ssh: Record<string, unknown>;
  hosts: { name: string; address: string; roles: string[] }[];
  addons?: Record<string, unknown>;
}

/** address -> SHA256 fingerprint of every key in a known_hosts file. */
function fingerprints(file: string): Map<string, string> {
  return new Map(parseKnownHosts(readFileSync(file, "utf8")).map((e) => [e.hosts, fingerprint(e.key)]));
}

const UPSTREAM_SKIP = upstreamSkipReason(`calico/calico-${CALICO.version}.yaml`);

describe.skipIf(labSkip)("kubesmith init against the lab", () => {
  let lab: StartedLab;
  let work: string;
  let addr: (i: number) => string;
  let subnet: number;
  let labPrints: Map<string, string>;
  const kubesmith = (args: string[]) => runCli(args, { cwd: work, env: { CI: "true" } });

  beforeAll(async () => {
    await ensureCliBuilt();
    lab = await startLab({ name: "wizard", layout: "1cp,1w,1fe" });
    work = mkdtempSync(join(tmpdir(), "kubesmith-init-"));
    addr = (i) => lab.state.hosts[i]!.address;
    subnet = lab.state.subnet;
    labPrints = fingerprints(lab.state.knownHostsFile);
  }, 180_000);
  afterAll(async () => {
    await lab?.down();
  });

  it("answers file: records host keys (accept-new), writes an inventory that validates and passes check", async () => {
    const kh = join(work, "kh-answers");
    const answers = join(work, "answers.yaml");
    writeFileSync(
      answers,
      [
        "name: wiz-answers",
        'kubernetesVersion: "1.35"',
        "ssh:",
        `  identityFile: ${lab.state.keyFile}`,
        `  knownHostsFile: ${kh}`,
        "hosts:",
        `  - { address: ${addr(0)}, roles: [control-plane] }`,
        `  - { address: ${addr(1)}, roles: [worker] }`,
        `  - { address: ${addr(2)}, roles: [worker, frontend] }`,
        `edgeVIP: { vip: ${lab.state.vips.edge} }`,
        "addons:",
        "  traefik: { mode: hostPort }",
        "  keepalived-edge: null",
      ].join("\n"),
    );
    const r = await kubesmith(["init", "--answers", answers, "-o", "answers-inv.yaml"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (let i = 0; i < 3; i++) {
      expect(r.stdout).toContain(`${addr(i)}: host key ssh-ed25519 ${labPrints.get(addr(i))} recorded in ${kh} (trusted on first use)`);
      expect(r.stdout).toMatch(new RegExp(`^${addr(i).replace(/\./g, "\\.")}: Debian GNU/Linux 12.*CPUs?, .* memory; eth0 `, "m"));
    }
    // the recorded keys are the hosts' real keys
    expect(fingerprints(kh)).toEqual(labPrints);

    const file = join(work, "answers-inv.yaml");
    const text = readFileSync(file, "utf8");
    const inv = parse(text) as Inv;
    // node names from the hosts' own hostnames, the VIP interface from the frontend's addresses
    expect(inv.hosts.map((h) => h.name)).toEqual(lab.state.hosts.map((h) => h.name));
    expect(inv.cluster).toMatchObject({ name: "wiz-answers", kubernetesVersion: "1.35", edgeVIP: { vip: lab.state.vips.edge, interface: "eth0" } });
    expect(inv.ssh).toMatchObject({ identityFile: lab.state.keyFile, knownHostsFile: kh, hostKeyPolicy: "strict" });
    expect(inv.addons).toEqual({
      prometheus: { enabled: false },
      grafana: { enabled: false },
      traefik: { enabled: true, values: { mode: "hostPort" } },
      filebeat: { enabled: false },
      "keepalived-edge": { enabled: true, values: { track: { port: 80 } } },
      hello: { enabled: false },
    });
    expect(text).toMatch(/^# The machines\./m);
    expect(text).toMatch(/^ {2}# Debian GNU\/Linux 12.*\(found by kubesmith init\)\n {2}- name: /m);

    const v = await kubesmith(["inventory", "validate", "-i", file]);
    expect(v.code, v.stderr).toBe(0);
    const c = await kubesmith(["check", "-i", file, "--state-dir", join(work, "state")]);
    expect(c.code, c.stderr + c.stdout).toBe(0);
    expect(c.stderr).toBe("");

    // again: the keys are known now, and an existing inventory is kept without --force
    const again = await kubesmith(["init", "--answers", answers, "-o", "answers-inv.yaml"]);
    expect(again.code).toBe(ExitCode.Usage);
    expect(again.stderr.trim()).toBe(`kubesmith: ${file} already exists (pass --force to overwrite it, or -o another file)`);
    expect(readFileSync(file, "utf8")).toBe(text);
    const forced = await kubesmith(["init", "--answers", answers, "-o", "answers-inv.yaml", "--force", "--name", "renamed"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain(`${addr(0)}: host key ssh-ed25519 ${labPrints.get(addr(0))} already in ${kh}`);
    expect((parse(readFileSync(file, "utf8")) as Inv).cluster.name).toBe("renamed");
  });

  it("flags only, without connecting (--no-probe): accept-new inventory that validates", async () => {
    const r = await kubesmith([
      "init",
      "--name", "wiz-flags",
      "--host", `cp1=${addr(0)}:cp`,
      "--host", `w1=${addr(1)}:worker`,
      "--identity-file", lab.state.keyFile,
      "--known-hosts", join(work, "kh-flags"),
      "--addons", "prometheus,grafana",
      "--set", "prometheus.storage.type=pvc",
      "--no-probe",
      "-o", "flags.yaml",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(work, "kh-flags"))).toBe(false);
    const inv = parse(readFileSync(join(work, "flags.yaml"), "utf8")) as Inv;
    expect(inv.ssh.hostKeyPolicy).toBe("accept-new");
    expect(Object.entries(inv.addons ?? {}).filter(([, v]) => (v as { enabled: boolean }).enabled)).toEqual([
      ["prometheus", { enabled: true, values: { storage: { type: "pvc" } } }],
      ["grafana", { enabled: true }],
    ]);
    const v = await kubesmith(["inventory", "validate", "-i", "flags.yaml"]);
    expect(v.code, v.stderr).toBe(0);
  });

  it("no terminal and a missing answer: one line naming the flag, exit 2, nothing written, no prompt", async () => {
    const r = await kubesmith(["init", "--host", `cp1=${addr(0)}:cp`, "-o", "missing.yaml"]);
    expect(r.code).toBe(ExitCode.Usage);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^kubesmith: missing answer: the cluster name \(set name: in the answers file or pass --name NAME\)/);
    expect(existsSync(join(work, "missing.yaml"))).toBe(false);

    const edge = await kubesmith(["init", "--name", "x", "--host", `cp1=${addr(0)}:cp`, "--host", `fe1=${addr(2)}:worker,frontend`, "--addons", "keepalived-edge"]);
    expect(edge.code).toBe(ExitCode.Usage);
    expect(edge.stderr).toMatch(/^kubesmith: missing answer: the edge VIP .*--edge-vip VIP/);
  });

  it("an unreachable host in a script: exit 4 naming it and the reason, nothing written", async () => {
    const r = await kubesmith([
      "init", "--name", "down", "--host", `cp1=198.18.${subnet}.250:cp`,
      "--identity-file", lab.state.keyFile, "--known-hosts", join(work, "kh-down"), "--connect-timeout", "3", "-o", "down.yaml",
    ]);
    expect(r.code).toBe(ExitCode.Unreachable);
    expect(r.stderr).toMatch(new RegExp(`^kubesmith: cp1: (no route to|(TCP )?connection to) 198\\.18\\.${subnet}\\.250:22`));
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(join(work, "down.yaml"))).toBe(false);
  });

  it.skipIf(!!UPSTREAM_SKIP)(`the wizard in a real terminal: wrong address corrected, keys confirmed, checks as you type, inventory written, up run${UPSTREAM_SKIP ? ` (skipped: ${UPSTREAM_SKIP})` : ""}`, async () => {
    const kh = join(work, "kh-tty");
    const cli = join(packageRoot(), "dist", "cli.js");
    // `up` from the wizard uses Calico's official manifest; the lab has no internet, so the user's cache
    // holds the real file (../shared/upstream), as after a first online run.
    const cache = mkdtempSync(join(tmpdir(), "kubesmith-cache-"));
    mkdirSync(join(cache, "calico"));
    copyFileSync(upstreamFile(`calico/calico-${CALICO.version}.yaml`), join(cache, "calico", `${CALICO.sha256}.yaml`));
    const term = new Terminal(
      `env -u CI -u SSH_AUTH_SOCK KUBESMITH_CACHE_DIR=${cache} ${process.execPath} ${cli} init -o tty.yaml --known-hosts ${kh} --connect-timeout 3; echo KS-EXIT=$?; sleep 600`,
      { cwd: work },
    );
    try {
      await term.prompt(/Cluster name/);
      await term.answer(() => term.type("wiz-tty"));
      await term.prompt(/Kubernetes version/);
      await term.answer(() => term.keys("Enter"));
      expect(term.screen()).toMatch(/^✔ Kubernetes version 1\.36/m);

      // host 1: first a wrong address, where nothing answers
      const wrong = `198.18.${subnet}.250`;
      await firstHost(term, wrong, lab.state.keyFile);
      // the reason, at once, and a way to fix it
      await term.waitFor(new RegExp(`✗ host 1: (no route to|(TCP )?connection to) ${wrong.replace(/\./g, "\\.")}:22`));
      await term.prompt(/What now\?/);
      await term.answer(() => term.keys("Enter")); // change the address
      await term.prompt(/Address/);

      const hosts = lab.state.hosts;
      for (let i = 0; i < 3; i++) {
        if (i > 0) {
          await term.prompt(/Same SSH settings as/);
          await term.answer(() => term.keys("Enter"));
          await term.prompt(/Address/);
        }
        await term.answer(() => term.type(addr(i)));
        // the host key, shown for the person to compare, then confirmed
        const m = await term.waitFor(new RegExp(`${addr(i).replace(/\./g, "\\.")} offers host key ssh-ed25519 (SHA256:\\S+)`));
        expect(m[1]).toBe(labPrints.get(addr(i)));
        await term.prompt(/Is that the host's key\?/);
        await term.answer(() => term.type("y"));
        await term.waitFor(new RegExp(`✓ Debian GNU/Linux 12 .*; eth0 ${addr(i).replace(/\./g, "\\.")}/24`));
        await term.prompt(new RegExp(`Roles of ${addr(i).replace(/\./g, "\\.")}`));
        await term.answer(() => term.keys("Enter")); // control plane for the first, worker after
        await term.prompt(/Node name/);
        // the default is the host's own hostname
        await term.waitFor(new RegExp(`^\\? Node name \\(${hosts[i]!.name}\\)`, "m"));
        await term.answer(() => term.keys("Enter"));
        await term.prompt(/Add another host\?/);
        // 1: add another host, 3: the hosts are complete
        await term.answer(() => term.keys(i < 2 ? "1" : "3", "Enter"));
      }

      await term.prompt(/Which nodes are frontend/);
      await term.answer(() => term.keys("Down", "Down", "Space", "Enter"));
      expect(term.screen()).toMatch(new RegExp(`^✔ Which nodes are frontend.* ${hosts[2]!.name}$`, "m"));
      await term.prompt(/Add-ons/);
      // prometheus, grafana, traefik, filebeat, keepalived-edge, hello; the first five are on by default.
      // Keep only traefik and keepalived-edge.
      await term.answer(() => term.keys("Space", "Down", "Space", "Down", "Down", "Space", "Enter"));
      expect(term.screen()).toMatch(/^✔ Add-ons .* traefik, keepalived-edge$/m);
      await term.prompt(/traefik: Traefik web entry point/);
      await term.answer(() => term.keys("Enter"));

      // checked as typed: a host's address is no VIP
      await term.prompt(/Edge VIP/);
      term.type(addr(0));
      await term.waitFor(new RegExp(`^> ${addr(0).replace(/\./g, "\\.")} is the address of host ${hosts[0]!.name}`, "m"));
      term.keys("C-u");
      await term.answer(() => term.type(lab.state.vips.edge!));
      await term.prompt(/Interface that carries it \(eth0\)/);
      await term.answer(() => term.keys("Enter"));

      // a pod network over the hosts' LAN is refused, with a suggestion
      await term.prompt(/Pod network/);
      term.type(`198.18.0.0/16`);
      await term.waitFor(/^> podCIDR 198\.18\.0\.0\/16 contains hosts .*choose e\.g\. 10\.244\.0\.0\/16/m);
      term.keys("C-u");
      await term.answer(() => term.keys("Enter"));
      await term.prompt(/Service network/);
      term.type("10.240.0.0/12");
      await term.waitFor(/^> overlaps the pod network 10\.244\.0\.0\/16/m);
      term.keys("C-u");
      await term.answer(() => term.keys("Enter"));

      await term.prompt(/Write the inventory to \(tty\.yaml\)/);
      await term.answer(() => term.keys("Enter"));
      await term.waitFor(new RegExp(`wrote ${join(work, "tty.yaml").replace(/[./]/g, "\\$&")} \\(3 hosts, Kubernetes 1\\.36\\)`));
      await term.waitFor(/next: kubesmith up -i tty\.yaml/);

      // the file is there, complete, and valid before `up` even starts
      const file = join(work, "tty.yaml");
      const inv = parse(readFileSync(file, "utf8")) as Inv;
      expect(inv.cluster).toMatchObject({ name: "wiz-tty", kubernetesVersion: "1.36", podCIDR: "10.244.0.0/16", serviceCIDR: "10.96.0.0/12" });
      expect(inv.cluster.edgeVIP).toEqual({ vip: lab.state.vips.edge, interface: "eth0" });
      expect(inv.hosts).toEqual([
        { name: hosts[0]!.name, address: addr(0), roles: ["control-plane"] },
        { name: hosts[1]!.name, address: addr(1), roles: ["worker"] },
        { name: hosts[2]!.name, address: addr(2), roles: ["worker", "frontend"] },
      ]);
      expect(inv.ssh).toMatchObject({ user: "root", port: 22, identityFile: lab.state.keyFile, knownHostsFile: kh, hostKeyPolicy: "strict" });
      expect(fingerprints(kh)).toEqual(labPrints);
      const v = await kubesmith(["inventory", "validate", "-i", file]);
      expect(v.code, v.stderr).toBe(0);

      // and up, from the wizard
      await term.prompt(/Run 'kubesmith up -i tty\.yaml' now\?/);
      await term.answer(() => term.type("y"));
      const exit = await term.waitFor(/^KS-EXIT=(\d+)$/m, 240_000);
      expect(exit[1], term.screen().slice(-4000)).toBe("0");
      for (const h of hosts) expect(term.screen()).toMatch(new RegExp(`^${h.name}\\s.*\\bReady\\b`, "m"));
    } finally {
      term.close();
    }
  }, 300_000);

  it("no control plane among the hosts: said when the hosts are entered, and the wizard asks for another host", async () => {
    const term = new Terminal(`env -u CI ${process.execPath} ${join(packageRoot(), "dist", "cli.js")} init -o nocp.yaml --no-probe; echo KS-EXIT=$?; sleep 600`, { cwd: work });
    try {
      await term.prompt(/Cluster name/);
      await term.answer(() => term.type("nocp"));
      await term.prompt(/Kubernetes version/);
      await term.answer(() => term.keys("Enter"));
      await firstHost(term, "198.18.250.10", lab.state.keyFile);
      await term.prompt(/Roles of 198\.18\.250\.10/);
      await term.answer(() => term.keys("Down", "Enter")); // worker
      await term.prompt(/Node name/);
      await term.answer(() => term.keys("Enter"));
      await term.prompt(/Add another host\?/);
      await term.answer(() => term.keys("3", "Enter")); // the hosts are complete
      await term.waitFor(/✗ no host is a control plane yet: a cluster needs one/);
      await term.waitFor(/^Host 2$/m);
      term.keys("C-c");
      await term.prompt(/Keep the answers so far/);
      await term.answer(() => term.type("n"));
      await term.waitFor(/^KS-EXIT=\d+$/m);
      expect(existsSync(join(work, "nocp.yaml"))).toBe(false);
      expect(existsSync(join(work, "nocp.answers.yaml"))).toBe(false);
    } finally {
      term.close();
    }
  });

  it("Ctrl-C in the wizard, the answers not kept: writes nothing and exits 130", async () => {
    const term = new Terminal(`env -u CI ${process.execPath} ${join(packageRoot(), "dist", "cli.js")} init -o ctrlc.yaml --no-probe; echo KS-EXIT=$?; sleep 600`, { cwd: work });
    try {
      await term.prompt(/Cluster name/);
      await term.answer(() => term.type("halfway"));
      await term.prompt(/Kubernetes version/);
      term.keys("C-c");
      // keeping them is offered (wizard-nav.test.ts keeps and resumes); no
      await term.prompt(/Keep the answers so far in ctrlc\.answers\.yaml/);
      await term.answer(() => term.type("n"));
      const m = await term.waitFor(/^KS-EXIT=(\d+)$/m);
      expect(m[1]).toBe(String(ExitCode.Aborted));
      expect(term.screen()).toMatch(/^kubesmith: init cancelled; nothing was written$/m);
      expect(existsSync(join(work, "ctrlc.yaml"))).toBe(false);
      expect(existsSync(join(work, "ctrlc.answers.yaml"))).toBe(false);
    } finally {
      term.close();
    }
  });
});
