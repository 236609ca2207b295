// Behavioural tests of the generated scripts: they parse in sh and dash, probes and applies do what they
// claim when run for real (temp files, fake package tools on PATH, private network namespaces), hostile
// values stay quoted, and the rendered keepalived config passes the real `keepalived -t`.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { UsageError } from "../../src/errors.js";
import {
  DOCKER_APT_DISTRO,
  FSTAB_SWAP_AWK,
  aptSourcesLine,
  fstabSwapApply,
  fstabSwapProbe,
  parseKubernetesVersion,
  prepareOsSteps,
  type PackageManager,
} from "../../src/scripts/os.js";
import { fileStep, probeAll, type Step } from "../../src/scripts/step.js";
import { probeScript } from "../../src/phases/steps.js";
import { firewallOpenings } from "../../src/scripts/firewall.js";
import {
  joinGuardProbe,
  kubeadmInitCommand,
  kubeadmInitConfig,
  kubeadmJoinCommand,
  kubeadmJoinConfig,
  kubeadmVersionField,
} from "../../src/scripts/kubeadm.js";
import { apiserverHealthCheckScript, controlPlaneKeepalivedConfig, keepalivedSteps } from "../../src/scripts/keepalived.js";
import { IPTABLES_FILTER_AWK, keepalivedRemoveSteps, resetSteps } from "../../src/scripts/reset.js";
import { quote } from "../../src/ssh/quote.js";
import { CA_HASH, CERT_KEY, IS_ROOT, KEEPALIVED, KEEPALIVED_V2, TOKEN, have, runSh, syntaxErrors } from "./fixtures.js";

const tmp = mkdtempSync(path.join(tmpdir(), "kubesmith-scripts-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let seq = 0;
function tmpPath(name: string): string {
  return path.join(tmp, `${seq++}-${name}`);
}

/** Every step every generator can produce, across its variants. */
function allSteps(): Step[] {
  const steps: Step[] = [];
  for (const pm of ["apt", "dnf", "yum"] as PackageManager[]) {
    for (const v of ["1.36", "1.36.2"]) {
      steps.push(...prepareOsSteps({ packageManager: pm, kubernetesVersion: v }));
      steps.push(
        ...prepareOsSteps({
          packageManager: pm,
          kubernetesVersion: v,
          offline: { aptRepo: "http://198.18.0.1/deb/", rpmRepo: "http://198.18.0.1/rpm/" },
        }),
      );
    }
    const openings = firewallOpenings({ controlPlane: true, worker: true, frontend: true, vrrp: true });
    for (const mode of ["manage", "disable", "ignore"] as const) {
      steps.push(...prepareOsSteps({ packageManager: pm, kubernetesVersion: "1.36", firewall: { mode, openings } }));
    }
    steps.push(...keepalivedSteps({ ...KEEPALIVED, packageManager: pm }));
    steps.push(...resetSteps({ keepalived: { purgePackage: pm } }));
  }
  steps.push(...keepalivedRemoveSteps());
  return steps;
}

describe("every generated script", () => {
  const steps = allSteps();
  const fragments: [string, string][] = [
    ...steps.flatMap((s): [string, string][] => [
      [`${s.id} probe`, s.probe],
      [`${s.id} apply`, s.apply],
    ]),
    ["joinGuardProbe worker", joinGuardProbe("worker")],
    ["joinGuardProbe control-plane", joinGuardProbe("control-plane")],
    ["health check", apiserverHealthCheckScript()],
    ["kubeadm init", kubeadmInitCommand("/etc/kubernetes/kubesmith-init.yaml")],
    ["kubeadm join", kubeadmJoinCommand("/etc/kubernetes/kubesmith-join.yaml")],
  ];

  it("covers all the step ids the issue asks for", () => {
    const ids = new Set(steps.map((s) => s.id));
    for (const id of [
      "kernel-modules",
      "sysctl",
      "swap-off",
      "containerd-install",
      "containerd-config",
      "containerd-service",
      "kubernetes-repo",
      "kubernetes-packages",
      "kubelet-enable",
      "selinux-permissive",
      "networkmanager-calico",
      "firewalld-open",
      "firewalld-disable",
      "keepalived-install",
      "keepalived-config",
      "keepalived-service",
      "kubeadm-reset",
      "cni-interfaces",
      "cni-files",
      "iptables-rules",
      "ipvs-rules",
      "etcd-data",
      "root-kubeconfig",
      "keepalived-stop",
      "keepalived-config-remove",
    ]) {
      expect(ids, id).toContain(id);
    }
  });

  it.each(["sh", "dash"])("parses with %s -n", (shell) => {
    const bad = fragments.map(([name, text]) => [name, syntaxErrors(shell, text)]).filter(([, err]) => err !== "");
    expect(bad).toEqual([]);
  });

  it("avoids bash-only syntax", () => {
    const bashisms = [/\[\[ /, /(^|[\s=(])\$'/, /<<</, /\bfunction\s+\w+/, /\bsource\s/, /&>/, /^\s*local\s/m, /\$\{[^}]*\/\//, /\bpipefail\b/];
    for (const [name, text] of fragments) {
      for (const re of bashisms) expect(re.test(text), `${name} matches ${re}`).toBe(false);
    }
  });

  it("applies start with set -eu; step ids are unique within each list", () => {
    for (const s of steps) expect(s.apply.startsWith("set -eu\n"), s.id).toBe(true);
    for (const list of [
      prepareOsSteps({ packageManager: "dnf", kubernetesVersion: "1.36" }),
      resetSteps({ keepalived: true }),
      keepalivedSteps({ ...KEEPALIVED, packageManager: "apt" }),
    ]) {
      const ids = list.map((s) => s.id);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });
});

describe("probeAll", () => {
  it("passes only when every check passes; a check's own exit 0 does not end the probe", () => {
    expect(runSh(probeAll("true", "true")).code).toBe(0);
    expect(runSh(probeAll("false", "true")).code).toBe(1);
    expect(runSh(probeAll("true", "false")).code).toBe(1);
    expect(runSh(probeAll("for x in a; do exit 0; done", "false")).code).toBe(1);
    expect(runSh(probeAll("[ 1 = 1 ] && [ 1 = 2 ]", "true")).code).toBe(1);
  });
});

describe("file steps, run for real on temp files", () => {
  const hostile = `a 'quoted' "double" $(touch CANARY) \`touch CANARY\` $HOME \\ ; | & > < * ? [x] ~ # ünïcødé 🚀\n-n line\n\n`;

  function run(step: Step, which: "probe" | "apply") {
    return runSh(step[which], { stdin: step.stdin ?? "", cwd: tmp });
  }

  it.each([false, true])("converges with hostile content and a hostile path (secret=%s)", (secret) => {
    const file = tmpPath(`dir 'x' $(touch CANARY)/f"g \`h\`.conf`);
    const step = fileStep({
      id: "t",
      what: "t",
      file: { path: file, content: hostile, mode: secret ? 0o600 : 0o640, secret },
      after: ["echo changed >&2"],
    });
    if (secret) {
      expect(step.probe).not.toContain("ünïcødé");
      expect(step.apply).not.toContain("ünïcødé");
      expect(step.stdin).toBe(hostile);
      expect(step.secrets).toEqual([hostile]);
    } else {
      expect(step.stdin).toBeUndefined();
    }
    expect(run(step, "probe").code).toBe(1);
    const a = run(step, "apply");
    expect(a.stderr).toContain("changed");
    expect(a.code).toBe(0);
    // Secret content goes through "$(cat)", which drops trailing newlines; one is written back.
    const expected = secret ? `${hostile.replace(/\n+$/, "")}\n` : hostile;
    expect(readFileSync(file, "utf8")).toBe(expected);
    expect((statSync(file).mode & 0o7777).toString(8)).toBe(secret ? "600" : "640");
    expect(run(step, "probe").code).toBe(0);
    expect(run(step, "apply").code).toBe(0);
    expect(run(step, "probe").code).toBe(0);
    expect(existsSync(path.join(tmp, "CANARY"))).toBe(false);

    // Drift is noticed: content, then mode.
    writeFileSync(file, "other\n");
    expect(run(step, "probe").code).toBe(1);
    expect(run(step, "apply").code).toBe(0);
    chmodSync(file, 0o644);
    expect(run(step, "probe").code).toBe(1);
  });

  it("a probe script reads all its files with one stat and one sha256sum and decides as each probe alone", () => {
    const dir = tmpPath(`t 'x' $(touch CANARY) "q"`);
    mkdirSync(dir);
    const f = (name: string, content: string, mode = 0o644) => fileStep({ id: name, what: name, file: { path: path.join(dir, name), content, mode } });
    const steps = [f("same", hostile), f("content", "want\n"), f("mode", "m\n", 0o600), f("missing", "x"), f("trailing", "t\n"), f("same 2", ""), f("back\\slash", "b")];
    writeFileSync(path.join(dir, "back\\slash"), "b");
    writeFileSync(path.join(dir, "same"), hostile);
    writeFileSync(path.join(dir, "content"), "other\n");
    writeFileSync(path.join(dir, "mode"), "m\n");
    writeFileSync(path.join(dir, "trailing"), "t\n\n");
    writeFileSync(path.join(dir, "same 2"), "");
    const alone = steps.map((s) => runSh(`(\n${s.probe}\n) >/dev/null 2>&1; echo $?`).stdout.trim());
    const text = probeScript(steps, "n");
    expect(text.match(/sha256sum /g)).toHaveLength(1 + steps.length); // the table's one, and each probe's own (the backslash one on stdin)
    const r = runSh(text);
    const together = [...r.stdout.matchAll(/^@@kubesmith-step n (\d+) (\d+)$/gm)].map((m) => m[2]);
    expect(together).toEqual(alone);
    // the content byte for byte: an extra trailing newline is a difference
    expect(alone).toEqual(["0", "1", "1", "1", "1", "0", "0"]);
    expect(existsSync(path.join(tmp, "CANARY"))).toBe(false);
  });

  it("refuses relative paths", () => {
    expect(() => fileStep({ id: "t", what: "t", file: { path: "etc/x", content: "" } })).toThrow(UsageError);
  });
});

describe("fstab swap helper, run on a temp fstab", () => {
  const fstab = [
    "# /etc/fstab: static file system information.",
    "UUID=abcd / ext4 errors=remount-ro 0 1",
    "UUID=ef01 none swap sw 0 0",
    "  # /swapfile none swap sw 0 0",
    "/swap\\040file\tnone\tswap\tdefaults,pri=5\t0\t0",
    "",
    "tmpfs /tmp tmpfs defaults 0 0",
    "/dev/sdb1 /srv/swapdata xfs defaults 0 0",
    "",
  ].join("\n");

  it("comments out active swap entries only, keeps one backup, converges", () => {
    const file = tmpPath("fstab");
    writeFileSync(file, fstab, { mode: 0o640 });
    expect(runSh(fstabSwapProbe(file)).code).toBe(1);
    expect(runSh(fstabSwapApply(file)).code).toBe(0);
    const after = readFileSync(file, "utf8");
    expect(after).toBe(
      fstab
        .replace("UUID=ef01 none swap", "#UUID=ef01 none swap")
        .replace("/swap\\040file\tnone", "#/swap\\040file\tnone"),
    );
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(readFileSync(`${file}.kubesmith.bak`, "utf8")).toBe(fstab);
    expect(runSh(fstabSwapProbe(file)).code).toBe(0);
    // A second apply changes nothing and keeps the first backup.
    expect(runSh(fstabSwapApply(file)).code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(after);
    expect(readFileSync(`${file}.kubesmith.bak`, "utf8")).toBe(fstab);
  });

  it("passes on a missing fstab and on one without swap", () => {
    expect(runSh(fstabSwapProbe(tmpPath("missing"))).code).toBe(0);
    const file = tmpPath("fstab-noswap");
    writeFileSync(file, "UUID=abcd / ext4 defaults 0 1\n");
    expect(runSh(fstabSwapProbe(file)).code).toBe(0);
    expect(FSTAB_SWAP_AWK).toContain('$3 == "swap"');
  });
});

describe("package probes, against fake dpkg-query / rpm on PATH", () => {
  const bin = tmpPath("bin");
  runSh(`mkdir -p ${quote(bin)}`);
  // The fakes answer every package alike, the way the real tools would for an all-equal host.
  writeFileSync(
    path.join(bin, "dpkg-query"),
    '#!/bin/sh\n[ -n "$FAKE_DPKG" ] || { echo "dpkg-query: no packages found matching x" >&2; exit 1; }\nprintf "%s" "$FAKE_DPKG"\n',
    { mode: 0o755 },
  );
  writeFileSync(
    path.join(bin, "rpm"),
    '#!/bin/sh\n[ -n "$FAKE_RPM" ] || { echo "package x is not installed"; exit 1; }\nprintf "%s" "$FAKE_RPM"\n',
    { mode: 0o755 },
  );
  const probeOf = (pm: PackageManager, v: string, id: string) => {
    const s = prepareOsSteps({ packageManager: pm, kubernetesVersion: v }).find((x) => x.id === id);
    if (!s) throw new Error(`no step ${id}`);
    return s.probe;
  };
  const withFake = (probe: string, env: Record<string, string>) =>
    runSh(probe, { env: { PATH: `${bin}:${process.env.PATH ?? ""}`, FAKE_DPKG: "", FAKE_RPM: "", ...env } }).code;

  it.each([
    ["1.36", "hold ok installed 1.36.2-1.1", 0],
    ["1.36", "install ok installed 1.36.2-1.1", 1], // not held
    ["1.36", "hold ok installed 1.37.0-1.1", 1],
    ["1.36", "hold ok installed 1.3.3-1.1", 1],
    ["1.36", "hold ok installed 1.360.0-1.1", 1],
    ["1.36", "", 1], // not installed
    ["1.36.2", "hold ok installed 1.36.2-1.1", 0],
    ["1.36.2", "hold ok installed 1.36.2-2.1", 0],
    ["1.36.2", "hold ok installed 1.36.20-1.1", 1],
    ["1.36.2", "hold ok installed 1.36.1-1.1", 1],
  ] as const)("apt %s with %j → %i", (v, status, code) => {
    expect(withFake(probeOf("apt", v, "kubernetes-packages"), { FAKE_DPKG: status })).toBe(code);
  });

  it.each([
    ["1.36", "1.36.2", 0],
    ["1.36", "1.37.0", 1],
    ["1.36", "1.360.1", 1],
    ["1.36", "", 1],
    ["1.36.2", "1.36.2", 0],
    ["1.36.2", "1.36.21", 1],
  ] as const)("dnf %s with VERSION %j → %i", (v, version, code) => {
    expect(withFake(probeOf("dnf", v, "kubernetes-packages"), { FAKE_RPM: version })).toBe(code);
  });

  it("installed-package probes accept install/hold, refuse removed packages", () => {
    const probe = probeOf("apt", "1.36", "base-packages");
    expect(withFake(probe, { FAKE_DPKG: "install ok installed" })).toBe(0);
    expect(withFake(probe, { FAKE_DPKG: "hold ok installed" })).toBe(0);
    expect(withFake(probe, { FAKE_DPKG: "deinstall ok config-files" })).toBe(1);
    expect(withFake(probe, { FAKE_DPKG: "" })).toBe(1);
    // containerd.io 2.x only: a containerd.io 1.x (or the distribution's containerd, a different package) is replaced
    const containerd = probeOf("apt", "1.36", "containerd-install");
    expect(withFake(containerd, { FAKE_DPKG: "install ok installed 2.2.1-1~debian.12~bookworm" })).toBe(0);
    expect(withFake(containerd, { FAKE_DPKG: "hold ok installed 2.1.5-1~ubuntu.24.04~noble" })).toBe(0);
    expect(withFake(containerd, { FAKE_DPKG: "install ok installed 1.7.28-1~debian.12~bookworm" })).toBe(1);
    expect(withFake(containerd, { FAKE_DPKG: "deinstall ok config-files 2.2.1-1" })).toBe(1);
    expect(withFake(containerd, { FAKE_DPKG: "" })).toBe(1);
    const rpmContainerd = probeOf("dnf", "1.36", "containerd-install");
    expect(withFake(rpmContainerd, { FAKE_RPM: "2.2.1" })).toBe(0);
    expect(withFake(rpmContainerd, { FAKE_RPM: "1.7.28" })).toBe(1);
    expect(withFake(rpmContainerd, { FAKE_RPM: "" })).toBe(1);
    expect(withFake(probeOf("dnf", "1.36", "base-packages"), { FAKE_RPM: "x" })).toBe(0);
    expect(withFake(probeOf("dnf", "1.36", "base-packages"), { FAKE_RPM: "" })).toBe(1);
  });
});

describe("prepareOsSteps inputs", () => {
  it("parses versions and refuses others", () => {
    expect(parseKubernetesVersion("1.36")).toEqual({ minor: "1.36" });
    expect(parseKubernetesVersion("v1.36.2")).toEqual({ minor: "1.36", patch: "1.36.2" });
    for (const bad of ["1", "1.36.2.1", "2.0", "1.36-rc", "latest", "1.36; rm -rf /"]) {
      expect(() => parseKubernetesVersion(bad), bad).toThrow(UsageError);
    }
  });

  it("refuses an unsupported package manager", () => {
    expect(() => prepareOsSteps({ packageManager: "zypper" as PackageManager, kubernetesVersion: "1.36" })).toThrow(UsageError);
  });

  it("offline apt: no key download, trusted mirror; a hostile mirror URL stays quoted", () => {
    const url = `http://198.18.0.1/$(touch${"${IFS}"}CANARY)/'x'/\`id\`/`;
    const steps = prepareOsSteps({ packageManager: "apt", kubernetesVersion: "1.36", offline: { aptRepo: url } });
    const repo = steps.find((s) => s.id === "kubernetes-repo");
    expect(repo).toBeDefined();
    expect(repo?.apply).not.toContain("curl");
    expect(repo?.apply).not.toContain("gpg");
    expect(repo?.apply).toContain(quote(`${aptSourcesLine("1.36", { aptRepo: url })}\n`));
    expect(aptSourcesLine("1.36", { aptRepo: url })).toBe(`deb [trusted=yes] ${url} /`);
    expect(steps.find((s) => s.id === "base-packages")?.what).not.toMatch(/curl|gpg/);
    // Running the probe (read-only) with the hostile value executes nothing from it.
    runSh(repo?.probe ?? "exit 1", { cwd: tmp });
    expect(existsSync(path.join(tmp, "CANARY"))).toBe(false);
    expect(() => prepareOsSteps({ packageManager: "apt", kubernetesVersion: "1.36", offline: { aptRepo: "http://x/ y" } })).toThrow(UsageError);
    expect(() => prepareOsSteps({ packageManager: "dnf", kubernetesVersion: "1.36", offline: { rpmRepo: "http://x/\nexclude=" } })).toThrow(UsageError);
  });

  it("offline dnf: mirror without gpg, no Docker repository; online dnf adds it", () => {
    const off = prepareOsSteps({ packageManager: "dnf", kubernetesVersion: "1.36", offline: { rpmRepo: "http://198.18.0.1/rpm/" } });
    expect(off.map((s) => s.id)).not.toContain("containerd-repo");
    const repo = off.find((s) => s.id === "kubernetes-repo")?.apply ?? "";
    expect(repo).toContain("baseurl=http://198.18.0.1/rpm/");
    expect(repo).toContain("gpgcheck=0");
    expect(repo).toContain("exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni");
    const on = prepareOsSteps({ packageManager: "dnf", kubernetesVersion: "1.36" });
    expect(on.map((s) => s.id)).toContain("containerd-repo");
    expect(on.map((s) => s.id).indexOf("containerd-repo")).toBeLessThan(on.map((s) => s.id).indexOf("containerd-install"));
  });

  it("apt: Docker's repository is added online (before containerd.io), not with an offline mirror", () => {
    const on = prepareOsSteps({ packageManager: "apt", kubernetesVersion: "1.36" }).map((s) => s.id);
    expect(on).toContain("containerd-repo");
    expect(on.indexOf("containerd-repo")).toBeLessThan(on.indexOf("containerd-install"));
    const off = prepareOsSteps({ packageManager: "apt", kubernetesVersion: "1.36", offline: { aptRepo: "http://198.18.0.1/deb/" } });
    expect(off.map((s) => s.id)).not.toContain("containerd-repo");
    expect(off.find((s) => s.id === "containerd-install")?.apply).toContain("'containerd.io=2.*'");
  });

  it("containerd config: sandbox image follows the minor and the offline image repository; mirrors become hosts.toml", () => {
    const cfg = (o: Parameters<typeof prepareOsSteps>[0]) => prepareOsSteps(o).find((s) => s.id === "containerd-config")!;
    expect(cfg({ packageManager: "apt", kubernetesVersion: "1.35.2" }).apply).toContain("sandbox = \"registry.k8s.io/pause:3.10.1\"");
    const off = cfg({
      packageManager: "dnf",
      kubernetesVersion: "1.36",
      offline: { imageRepository: "198.18.0.1:5000/k8s", registryMirrors: { "docker.io": ["http://198.18.0.1:5001"] } },
    });
    expect(off.apply).toContain("sandbox = \"198.18.0.1:5000/k8s/pause:3.10.1\"");
    expect(off.apply).toContain("/etc/containerd/certs.d/docker.io/hosts.toml");
    expect(off.probe).toContain("/etc/containerd/certs.d/docker.io/hosts.toml");
    expect(off.apply).toMatch(/systemctl restart containerd$/);
  });
});

describe("Docker's apt repository line, from /etc/os-release", () => {
  const step = () => prepareOsSteps({ packageManager: "apt", kubernetesVersion: "1.36" }).find((s) => s.id === "containerd-repo")!;
  // Run the distro detection both probe and apply use on a fake os-release and print what it found.
  const lineFor = (osRelease: string) => {
    const file = tmpPath("os-release");
    writeFileSync(file, osRelease);
    expect(step().probe).toContain(DOCKER_APT_DISTRO);
    return runSh(`${DOCKER_APT_DISTRO.replace("/etc/os-release", quote(file))}\necho "$d $c"`).stdout.trim();
  };
  it("Debian, Ubuntu and an Ubuntu derivative map to download.docker.com/linux/<debian|ubuntu> <codename>", () => {
    expect(lineFor('ID=debian\nVERSION_CODENAME=bookworm\n')).toBe("debian bookworm");
    expect(lineFor('ID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\nUBUNTU_CODENAME=noble\n')).toBe("ubuntu noble");
    expect(lineFor('ID=linuxmint\nID_LIKE="ubuntu debian"\nVERSION_CODENAME=wilma\nUBUNTU_CODENAME=noble\n')).toBe("ubuntu noble");
  });
  it("writes the signed-by line the probe expects", () => {
    expect(step().apply).toContain('"deb [signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/$d $c stable"');
    expect(step().probe).toContain('"deb [signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/$d $c stable"');
  });
});

describe("kubeadm configs", () => {
  const init = () =>
    kubeadmInitConfig({
      nodeName: "cp1",
      nodeIP: "198.18.0.11",
      advertiseAddress: "198.18.0.11",
      kubernetesVersion: "1.36.2",
      controlPlaneEndpoint: "198.18.0.100:6443",
      podSubnet: "10.244.0.0/16",
      serviceSubnet: "10.96.0.0/12",
      certSANs: ["198.18.0.100", "api.example.test"],
      bootstrapToken: TOKEN,
      certificateKey: CERT_KEY,
    });

  it("init: three documents with the expected kinds and fields", () => {
    const docs = parseAllDocuments(init()).map((d) => {
      expect(d.errors).toEqual([]);
      return d.toJS() as Record<string, any>;
    });
    expect(docs.map((d) => `${d.apiVersion} ${d.kind}`)).toEqual([
      "kubeadm.k8s.io/v1beta4 InitConfiguration",
      "kubeadm.k8s.io/v1beta4 ClusterConfiguration",
      "kubelet.config.k8s.io/v1beta1 KubeletConfiguration",
    ]);
    const [i, c, k] = docs as [Record<string, any>, Record<string, any>, Record<string, any>];
    expect(i.nodeRegistration).toEqual({
      name: "cp1",
      criSocket: "unix:///run/containerd/containerd.sock",
      kubeletExtraArgs: [{ name: "node-ip", value: "198.18.0.11" }],
      taints: [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }],
    });
    expect(i.localAPIEndpoint).toEqual({ advertiseAddress: "198.18.0.11", bindPort: 6443 });
    expect(i.certificateKey).toBe(CERT_KEY);
    expect(i.bootstrapTokens[0].token).toBe(TOKEN);
    expect(c.kubernetesVersion).toBe("v1.36.2");
    expect(c.controlPlaneEndpoint).toBe("198.18.0.100:6443");
    expect(c.networking).toEqual({ podSubnet: "10.244.0.0/16", serviceSubnet: "10.96.0.0/12" });
    expect(c.apiServer).toEqual({ certSANs: ["198.18.0.100", "api.example.test"] });
    expect(k.cgroupDriver).toBe("systemd");
  });

  it("version field: patch → v1.36.2, minor → stable-1.36", () => {
    expect(kubeadmVersionField("1.36.2")).toBe("v1.36.2");
    expect(kubeadmVersionField("1.36")).toBe("stable-1.36");
  });

  it("join: worker and control plane", () => {
    const worker = parseAllDocuments(
      kubeadmJoinConfig({
        kind: "worker",
        nodeName: "w1",
        nodeIP: "198.18.0.31",
        apiServerEndpoint: "198.18.0.100:6443",
        token: TOKEN,
        caCertHashes: [CA_HASH],
      }),
    ).map((d) => d.toJS() as Record<string, any>);
    expect(worker).toHaveLength(1);
    expect(worker[0]?.kind).toBe("JoinConfiguration");
    expect(worker[0]?.discovery).toEqual({
      bootstrapToken: { apiServerEndpoint: "198.18.0.100:6443", token: TOKEN, caCertHashes: [CA_HASH] },
    });
    expect(worker[0]?.controlPlane).toBeUndefined();
    expect(worker[0]?.nodeRegistration.taints).toBeUndefined();

    const cp = parseAllDocuments(
      kubeadmJoinConfig({
        kind: "control-plane",
        nodeName: "cp2",
        nodeIP: "198.18.0.12",
        advertiseAddress: "198.18.0.12",
        apiServerEndpoint: "198.18.0.100:6443",
        token: TOKEN,
        caCertHashes: [CA_HASH],
        certificateKey: CERT_KEY,
      }),
    ).map((d) => d.toJS() as Record<string, any>);
    expect(cp[0]?.controlPlane).toEqual({
      localAPIEndpoint: { advertiseAddress: "198.18.0.12", bindPort: 6443 },
      certificateKey: CERT_KEY,
    });
    expect(cp[0]?.nodeRegistration.taints).toEqual([{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }]);
  });

  it("hostile strings survive YAML serialisation exactly", () => {
    const weird = `a: b # c\n- 'd' "e" {f} [g] &h *i !j %k @l \`m\` ü`;
    const text = kubeadmJoinConfig({
      kind: "worker",
      nodeName: weird,
      nodeIP: weird,
      apiServerEndpoint: weird,
      token: TOKEN,
      caCertHashes: [CA_HASH],
      taints: [{ key: weird, value: weird, effect: "NoExecute" }],
    });
    const doc = parseAllDocuments(text)[0]?.toJS() as Record<string, any>;
    expect(doc.nodeRegistration.name).toBe(weird);
    expect(doc.nodeRegistration.kubeletExtraArgs[0].value).toBe(weird);
    expect(doc.nodeRegistration.taints[0]).toEqual({ key: weird, value: weird, effect: "NoExecute" });
    expect(doc.discovery.bootstrapToken.apiServerEndpoint).toBe(weird);
  });

  it("refuses malformed secrets and inconsistent joins", () => {
    const base = {
      nodeName: "w1",
      nodeIP: "198.18.0.31",
      apiServerEndpoint: "198.18.0.100:6443",
      token: TOKEN,
      caCertHashes: [CA_HASH],
    };
    expect(() => kubeadmJoinConfig({ ...base, kind: "worker", token: "short" })).toThrow(UsageError);
    expect(() => kubeadmJoinConfig({ ...base, kind: "worker", caCertHashes: [] })).toThrow(UsageError);
    expect(() => kubeadmJoinConfig({ ...base, kind: "worker", caCertHashes: ["md5:00"] })).toThrow(UsageError);
    expect(() => kubeadmJoinConfig({ ...base, kind: "worker", certificateKey: CERT_KEY })).toThrow(UsageError);
    expect(() => kubeadmJoinConfig({ ...base, kind: "control-plane", advertiseAddress: "198.18.0.12" })).toThrow(UsageError);
    expect(() => kubeadmJoinConfig({ ...base, kind: "control-plane", certificateKey: CERT_KEY })).toThrow(UsageError);
    expect(() => kubeadmInitConfig({
      nodeName: "cp1",
      nodeIP: "198.18.0.11",
      advertiseAddress: "198.18.0.11",
      kubernetesVersion: "1.36",
      controlPlaneEndpoint: "198.18.0.11:6443",
      podSubnet: "10.244.0.0/16",
      serviceSubnet: "10.96.0.0/12",
      certificateKey: "XYZ",
    })).toThrow(UsageError);
  });

  it("join guard: worker needs kubelet.conf, control plane also the API server manifest", () => {
    const root = tmpPath("root");
    const g = (kind: "worker" | "control-plane") => joinGuardProbe(kind).replaceAll("/etc/kubernetes", `${root}/etc/kubernetes`);
    expect(runSh(g("worker")).code).toBe(1);
    runSh(`mkdir -p ${quote(`${root}/etc/kubernetes/manifests`)} && touch ${quote(`${root}/etc/kubernetes/kubelet.conf`)}`);
    expect(runSh(g("worker")).code).toBe(0);
    expect(runSh(g("control-plane")).code).toBe(1);
    runSh(`touch ${quote(`${root}/etc/kubernetes/manifests/kube-apiserver.yaml`)}`);
    expect(runSh(g("control-plane")).code).toBe(0);
  });
});

describe("keepalived", () => {
  const iface = existsSync("/sys/class/net/eth0") ? "eth0" : "lo";

  function renderTo(opts: Partial<typeof KEEPALIVED> = {}): string {
    const dir = tmpPath("keepalived");
    runSh(`mkdir -p ${quote(dir)}`);
    const check = path.join(dir, "check_apiserver.sh");
    writeFileSync(check, apiserverHealthCheckScript(), { mode: 0o755 });
    const conf = path.join(dir, "keepalived.conf");
    writeFileSync(conf, controlPlaneKeepalivedConfig({ ...KEEPALIVED, interface: iface, healthCheck: check, ...opts }), { mode: 0o600 });
    return conf;
  }

  it.skipIf(!have("keepalived"))("the rendered config passes the real keepalived -t", () => {
    const variants: Partial<typeof KEEPALIVED>[] = [
      {}, // VRRPv3, advert_int 0.1, unicast peers
      { nopreempt: true, weight: -20, advertInt: 0.05 },
      { peers: [] as string[] },
      { unicast: false, advertInt: 0.3 },
      { vrrpVersion: 2, authPass: KEEPALIVED_V2.authPass!, advertInt: 2 },
    ];
    for (const opts of variants) {
      const conf = renderTo(opts);
      // keepalived -t exits 0 for a missing file: make sure it is there.
      expect(existsSync(conf)).toBe(true);
      const r = runSh(`keepalived -t -f ${quote(conf)}`);
      expect(r.stderr + r.stdout, JSON.stringify(opts)).toBe("");
      expect(r.code).toBe(0);
    }
  });

  it.skipIf(!have("keepalived"))("keepalived -t does fail here on a missing interface (the check has teeth)", () => {
    const conf = renderTo({ interface: "nosuch9" });
    expect(existsSync(conf)).toBe(true);
    expect(runSh(`keepalived -t -f ${quote(conf)}`).code).not.toBe(0);
  });

  it("refuses values keepalived's config syntax cannot carry", () => {
    const bad: Partial<typeof KEEPALIVED>[] = [
      { interface: 'eth0"; x' },
      { interface: "eth0 dev lo" },
      { interface: "averyveryverylongname0" },
      // Linux's dev_valid_name refuses these; a newline would open a new keepalived block.
      { interface: "." },
      { interface: ".." },
      { interface: "eth0\n}\nvrrp_script pwn {" },
      { interface: "eth0:1" },
      { vrrpVersion: 2, authPass: "has space" },
      { vrrpVersion: 2, authPass: "ninechars" },
      { vrrpVersion: 2, authPass: "a#b" },
      { vrrpVersion: 2, authPass: "" },
      // VRRPv3 has no authentication; VRRPv2 counts whole seconds; keepalived's range is 0.01-255.
      { authPass: "Zq8.x-2k" },
      { vrrpVersion: 2, authPass: "Zq8.x-2k", advertInt: 0.5 },
      { vrrpVersion: 2, advertInt: 0 },
      { advertInt: 0.005 },
      { advertInt: 0.123 },
      { advertInt: 256 },
      { advertInt: Number.NaN },
      { vrrpVersion: 4 as never },
      { healthCheck: "/etc/keepalived/'check'.sh" },
      { healthCheck: "relative.sh" },
      { vip: "198.18.0.300" },
      { peers: ["198.18.0.12", "not-an-ip"] },
      { peers: ["198.18.0.11"] },
      { self: "198.18.0.100" },
      { routerId: 256 },
      { priority: 0 },
      { priority: 255 },
    ];
    for (const b of bad) {
      expect(() => controlPlaneKeepalivedConfig({ ...KEEPALIVED, ...b }), JSON.stringify(b)).toThrow(UsageError);
    }
    // The message shows the value escaped, never a raw line break.
    expect(() => controlPlaneKeepalivedConfig({ ...KEEPALIVED, interface: "eth0\nx" })).toThrow(/interface "eth0\\nx" is not a plain interface name/);
  });

  it("VRRPv3 by default: version 3, advert_int 0.1, unicast peers, no authentication", () => {
    const c = controlPlaneKeepalivedConfig(KEEPALIVED);
    expect(c).toContain("    version 3\n    advert_int 0.1\n");
    expect(c).toMatch(/unicast_src_ip 198\.18\.0\.11\n {4}unicast_peer \{\n {8}198\.18\.0\.12\n {8}198\.18\.0\.13\n {4}\}/);
    expect(c).not.toContain("authentication");
    expect(c).not.toContain("auth_pass");
    // Multicast: no unicast block at all. VRRPv2: PASS auth, whole seconds (1 by default).
    expect(controlPlaneKeepalivedConfig({ ...KEEPALIVED, unicast: false })).not.toContain("unicast");
    const v2 = controlPlaneKeepalivedConfig(KEEPALIVED_V2);
    expect(v2).toContain("    version 2\n    advert_int 1\n");
    expect(v2).toContain("auth_type PASS");
    // Intervals are written as keepalived reads them: at most two decimals, never an exponent.
    expect(controlPlaneKeepalivedConfig({ ...KEEPALIVED, advertInt: 0.07 })).toContain("advert_int 0.07\n");
    expect(controlPlaneKeepalivedConfig({ ...KEEPALIVED, advertInt: 0.1 + 0.2 })).toContain("advert_int 0.3\n");
    expect(controlPlaneKeepalivedConfig({ ...KEEPALIVED, advertInt: 0.01 })).toContain("advert_int 0.01\n");
    expect(() => controlPlaneKeepalivedConfig({ ...KEEPALIVED, authPass: "Zq8.x-2k" })).toThrow(/authPass needs vrrpVersion 2/);
    expect(() => controlPlaneKeepalivedConfig({ ...KEEPALIVED, vrrpVersion: 2, advertInt: 0.5 })).toThrow(/whole seconds 1-255 with VRRP version 2/);
  });

  it("the config step carries the password on stdin only, and writes 0600", () => {
    const steps = keepalivedSteps({ ...KEEPALIVED_V2, packageManager: "apt" });
    const cfg = steps.find((s) => s.id === "keepalived-config");
    expect(cfg?.stdin).toBe(controlPlaneKeepalivedConfig(KEEPALIVED_V2));
    expect(cfg?.stdin).toContain(`auth_pass ${KEEPALIVED_V2.authPass}`);
    expect(cfg?.secrets).toContain(cfg?.stdin);
    for (const s of steps) {
      expect(s.probe).not.toContain(KEEPALIVED_V2.authPass);
      expect(s.apply).not.toContain(KEEPALIVED_V2.authPass);
      expect(s.what).not.toContain(KEEPALIVED_V2.authPass);
    }
    expect(cfg?.apply).toContain("chmod '600'");
    expect(cfg?.apply).toContain("umask 077");
  });

  it("health check: 0 only when curl succeeds and says ok", () => {
    const bin = tmpPath("curlbin");
    runSh(`mkdir -p ${quote(bin)}`);
    writeFileSync(path.join(bin, "curl"), '#!/bin/sh\necho "$*" > "$(dirname "$0")/args"\nprintf "%s" "$FAKE_BODY"\nexit "${FAKE_CODE:-0}"\n', { mode: 0o755 });
    const env = (body: string, code: string) => ({ PATH: `${bin}:${process.env.PATH ?? ""}`, FAKE_BODY: body, FAKE_CODE: code });
    const s = apiserverHealthCheckScript();
    expect(runSh(s, { env: env("ok", "0") }).code).toBe(0);
    expect(readFileSync(path.join(bin, "args"), "utf8")).toContain("https://127.0.0.1:6443/healthz");
    expect(readFileSync(path.join(bin, "args"), "utf8")).toMatch(/-\w*k/);
    expect(runSh(s, { env: env("[-]etcd failed", "0") }).code).not.toBe(0);
    expect(runSh(s, { env: env("", "7") }).code).not.toBe(0);
  });
});

describe("reset steps", () => {
  it("iptables filter: drops kube-proxy/Calico lines, keeps the rest (pure awk)", () => {
    const saved = [
      "# Generated by iptables-save v1.8.9 (nf_tables)",
      "*filter",
      ":INPUT ACCEPT [0:0]",
      ":FORWARD DROP [0:0]",
      ":OUTPUT ACCEPT [0:0]",
      ":KUBE-FIREWALL - [0:0]",
      ":cali-FORWARD - [0:0]",
      ":MYCHAIN - [0:0]",
      '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
      "-A INPUT -j KUBE-FIREWALL",
      '-A FORWARD -m comment --comment "cali:wUHhoiAYhphO9Mso" -j cali-FORWARD',
      '-A FORWARD -m comment --comment "cali:S93hcgKJrXEqnTfs" -m mark --mark 0x10000/0x10000 -j ACCEPT',
      "-A FORWARD -j MYCHAIN",
      "-A KUBE-FIREWALL -j DROP",
      "-A cali-FORWARD -g cali-from-hep-forward",
      "-A MYCHAIN -s 10.0.0.0/8 -j ACCEPT",
      "COMMIT",
      "",
    ].join("\n");
    const file = tmpPath("iptables.save");
    writeFileSync(file, saved);
    const awk = (check: number) => runSh(`awk -v check=${check} ${quote(IPTABLES_FILTER_AWK)} ${quote(file)}`);
    expect(awk(1).code).toBe(1);
    expect(awk(0).stdout).toBe(
      [
        "# Generated by iptables-save v1.8.9 (nf_tables)",
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":FORWARD DROP [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":MYCHAIN - [0:0]",
        "-A FORWARD -j MYCHAIN",
        "-A MYCHAIN -s 10.0.0.0/8 -j ACCEPT",
        "COMMIT",
        "",
      ].join("\n"),
    );
    writeFileSync(file, awk(0).stdout);
    expect(awk(1).code).toBe(0);
  });

  const step = (id: string) => {
    const s = resetSteps().find((x) => x.id === id);
    if (!s) throw new Error(`no step ${id}`);
    return s;
  };

  const canNetns = IS_ROOT && have("unshare") && have("ip");

  it.skipIf(!canNetns || !have("iptables-save"))("iptables rules: removed for real in a private network namespace, others kept", () => {
    const out = runSh(
      `unshare -n sh -c ${quote(
        [
          "set -e",
          "iptables -N KUBE-FIREWALL",
          "iptables -A KUBE-FIREWALL -j DROP",
          "iptables -A INPUT -m comment --comment 'kubernetes firewall' -j KUBE-FIREWALL",
          "iptables -t nat -N KUBE-SERVICES",
          "iptables -t nat -A PREROUTING -j KUBE-SERVICES",
          "iptables -N cali-FORWARD",
          "iptables -A FORWARD -m comment --comment cali:abc -j cali-FORWARD",
          "iptables -N MYCHAIN",
          "iptables -A MYCHAIN -s 10.0.0.0/8 -j ACCEPT",
          "iptables -A INPUT -j MYCHAIN",
          "ip6tables -N KUBE-KUBELET-CANARY",
          "set +e",
          'dash -c "$PROBE"; echo "probe1=$?"',
          'dash -c "$APPLY"; echo "apply=$?"',
          'dash -c "$PROBE"; echo "probe2=$?"',
          'dash -c "$APPLY"; echo "apply2=$?"',
          "iptables-save; ip6tables-save",
        ].join("\n"),
      )}`,
      { shell: "sh", env: { PROBE: step("iptables-rules").probe, APPLY: step("iptables-rules").apply } },
    );
    expect(out.stderr).toBe("");
    expect(out.stdout).toContain("probe1=1");
    expect(out.stdout).toContain("apply=0");
    expect(out.stdout).toContain("probe2=0");
    expect(out.stdout).toContain("apply2=0");
    expect(out.stdout).not.toMatch(/KUBE-|cali-/);
    expect(out.stdout).toContain("-A MYCHAIN -s 10.0.0.0/8 -j ACCEPT");
    expect(out.stdout).toContain("-A INPUT -j MYCHAIN");
  });

  it.skipIf(!canNetns)("CNI interfaces: deleted for real in a private network namespace, others kept", () => {
    const s = step("cni-interfaces");
    const out = runSh(
      `unshare -n sh -c ${quote(
        [
          "set -e",
          "ip link add cali1234 type veth peer name peer0",
          "ip link add caliabcd type veth peer name calipeer",
          "ip link add vxlan.calico type bridge",
          "ip link add kube-ipvs0 type bridge",
          "ip link add keepme type bridge",
          "set +e",
          'dash -c "$PROBE"; echo "probe1=$?"',
          'dash -c "$APPLY"; echo "apply=$?"',
          'dash -c "$PROBE"; echo "probe2=$?"',
          'dash -c "$APPLY"; echo "apply2=$?"',
          "ip -o link show | awk -F': ' '{ print \"link=\" $2 }'",
        ].join("\n"),
      )}`,
      { shell: "sh", env: { PROBE: s.probe, APPLY: s.apply } },
    );
    expect(out.stderr).toBe("");
    expect(out.stdout).toContain("probe1=1");
    expect(out.stdout).toContain("apply=0");
    expect(out.stdout).toContain("probe2=0");
    expect(out.stdout).toContain("apply2=0");
    const links = out.stdout.split("\n").filter((l) => l.startsWith("link=")).map((l) => l.slice(5).replace(/@.*/, ""));
    expect(links.sort()).toEqual(["keepme", "lo"]);
  });

  it("keepalived removal is part of resetSteps only when asked", () => {
    expect(resetSteps().map((s) => s.id)).not.toContain("keepalived-stop");
    expect(resetSteps({ keepalived: true }).map((s) => s.id)).toEqual(expect.arrayContaining(["keepalived-stop", "keepalived-config-remove"]));
    expect(resetSteps({ keepalived: { purgePackage: "apt" } }).map((s) => s.id)).toContain("keepalived-package-remove");
  });
});
