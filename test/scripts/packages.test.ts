// scripts/packages.ts: one implementation per package manager, the transient-failure classifier, and
// the Kubernetes key dearmored without gpg (compared with the real gpg --dearmor).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { keyArmored, keyBinary } from "../../src/lab/sim/keys.js";
import { dearmorApply } from "../../src/scripts/distro/debian.js";
import { prepareOsSteps } from "../../src/scripts/os.js";
import { dpkgStatus, dpkgTable, installStep, packageTool, transientPackageFailure } from "../../src/scripts/packages.js";
import { probeScript } from "../../src/phases/steps.js";
import { have, runSh } from "./fixtures.js";
import { script } from "../../src/scripts/step.js";
import { quote } from "../../src/ssh/quote.js";

describe("transientPackageFailure", () => {
  // The upstream messages (see the comment above TRANSIENT in src/scripts/packages.ts).
  const transient = [
    "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 1234 (apt-get)\nN: Be aware that removing the lock file is not a solution and may break your system.\nE: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?",
    "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 967 (apt)\nE: Unable to lock directory /var/lib/apt/lists/",
    "E: Could not get lock /var/lib/dpkg/lock - open (11: Resource temporarily unavailable)",
    "E: Failed to fetch http://deb.debian.org/debian/pool/main/s/socat/socat_1.7.4.4-2_amd64.deb  Temporary failure resolving 'deb.debian.org'",
    "E: Failed to fetch http://deb.debian.org/debian/pool/main/s/socat/socat_1.7.4.4-2_amd64.deb  503  Service Unavailable [IP: 151.101.2.132 80]",
    "W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Connection reset by peer [IP: 151.101.2.132 80]",
    "Errors during downloading metadata for repository 'baseos':\n  - Status code: 503 for https://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os/repodata/repomd.xml (IP: 151.101.2.132)",
    "Curl error (56): Failure when receiving data from the peer for https://x/repodata/repomd.xml [Recv failure: Connection reset by peer]",
    "Transaction failed: Failed to obtain rpm transaction lock. Another transaction is in progress.",
  ];
  const real = [
    "E: Unable to locate package kubeadmm",
    "E: Could not open lock file /var/lib/dpkg/lock-frontend - open (13: Permission denied)\nE: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), are you root?",
    "W: GPG error: https://pkgs.k8s.io/core:/stable:/v1.36/deb  InRelease: The following signatures couldn't be verified because the public key is not available: NO_PUBKEY 234654DA9A296436\nE: The repository 'https://pkgs.k8s.io/core:/stable:/v1.36/deb  InRelease' is not signed.",
    "E: Failed to fetch https://pkgs.k8s.io/core:/stable:/v1.99/deb/InRelease  403  Forbidden [IP: 146.75.121.55 443]",
    "W: Failed to fetch http://mirror.invalid/debian/dists/bookworm/InRelease  Could not resolve 'mirror.invalid'",
    "Some packages could not be installed.\nThe following packages have unmet dependencies:\n kubeadm : Depends: cri-tools but it is not installable\nE: Unable to correct problems, you have held broken packages.",
    "No match for argument: kubeadmm\nError: Unable to find a match: kubeadmm",
    "Error: GPG check FAILED",
  ];
  it.each(transient)("transient: %s", (out) => expect(transientPackageFailure(out)).toBeDefined());
  it.each(real)("real error: %s", (out) => expect(transientPackageFailure(out)).toBeUndefined());
});

describe("package tools", () => {
  it("apt and dnf write the same intent their own way; install fragments never refresh the index", () => {
    const apt = packageTool("apt");
    const dnf = packageTool("dnf");
    expect(apt.install(["a=1.*"], { replaceHeld: true })).toContain("apt-get install -y -q --allow-downgrades --allow-change-held-packages 'a=1.*'");
    expect(dnf.install(["a-1.*"], { disableExcludes: "kubernetes" })).toBe("dnf install -y --disableexcludes=kubernetes 'a-1.*'");
    expect(packageTool("yum").refreshIndex()).toBe("yum makecache -q");
    expect(apt.refreshIndex()).toBe("apt-get update -q");
    expect(apt.hold(["a"])).toBe("apt-mark hold 'a'");
    expect(dnf.hold(["a"])).toBeUndefined();
    for (const pm of ["apt", "dnf"] as const) {
      const steps = prepareOsSteps({ packageManager: pm, kubernetesVersion: "1.36" });
      // unconditional refreshes none; the only one left is the repository steps' fallback for a host without curl
      for (const s of steps) expect(s.apply, `${pm} ${s.id}`).not.toMatch(/^(apt-get update|dnf makecache)/m);
      const conditional = steps.filter((s) => /^\s+apt-get update/m.test(s.apply)).map((s) => s.id);
      expect(conditional).toEqual(pm === "apt" ? ["containerd-repo", "kubernetes-repo"] : []);
      const step = installStep(packageTool(pm), { id: "x", what: "x", pkgs: ["socat"] });
      expect(step.packageIndex).toEqual({ manager: pm, use: "install" });
    }
    expect(() => packageTool("zypper" as never)).toThrow(/unsupported package manager "zypper"/);
  });

  it("every repository step of prepare comes before the first install (one index refresh per host)", () => {
    for (const pm of ["apt", "dnf"] as const) {
      for (const offline of [undefined, pm === "apt" ? { aptRepo: "http://mirror.lan/k8s" } : { rpmRepo: "http://mirror.lan/k8s" }]) {
        const steps = prepareOsSteps({ packageManager: pm, kubernetesVersion: "1.36", ...(offline ? { offline } : {}) });
        const uses = steps.filter((s) => s.packageIndex).map((s) => s.packageIndex!.use);
        expect(uses.indexOf("install"), `${pm} ${offline ? "offline" : "online"}`).toBeGreaterThan(uses.lastIndexOf("repository"));
        expect(uses.filter((u) => u === "repository").length).toBe(offline ? 1 : 2);
      }
    }
  });
});

describe("dpkg-query once per probe script (dpkgStatus, dpkgTable)", () => {
  const names = ["bash", "dpkg", "kubesmith-no-such-package", "containerd.io"];
  const lines = names.flatMap((n) => [`printf '%s|%s\\n' ${quote(n)} "${dpkgStatus(n, false)}"`, `printf '%s|%s\\n' ${quote(n)} "${dpkgStatus(n, true)}"`]).join("\n");

  it("a prepare probe script asks dpkg-query once, for every package its probes name", () => {
    const steps = prepareOsSteps({ packageManager: "apt", kubernetesVersion: "1.36" });
    const text = probeScript(steps, "n0nce");
    const calls = text.split("\n").filter((l) => /^__ks_t=\$\(dpkg-query /.test(l));
    expect(calls).toHaveLength(1);
    for (const p of ["kubelet", "kubeadm", "kubectl", "containerd.io", "curl"]) expect(calls[0]).toContain(`'${p}'`);
    // the probes themselves still fall back to dpkg-query where no table was read (a batch's re-probe)
    expect(steps.map((s) => s.probe).join("\n")).toContain("$(dpkg-query -W -f='${Status} ${Version}' 'kubelet' 2>/dev/null)");
    expect(dpkgTable(["true"])).toBeUndefined();
    expect(() => dpkgStatus("bad name; rm", false)).toThrow(/invalid Debian package name/);
  });

  // The real dpkg-query of this machine (Debian: CI's kind): the table answers what dpkg-query answers.
  it.skipIf(!have("dpkg-query"))("answers from the table exactly what dpkg-query answers on its own (real dpkg-query)", () => {
    const live = runSh(lines);
    const table = runSh(`${dpkgTable([lines])}\n${lines}`);
    expect(live.code).toBe(0);
    expect(table.stdout).toBe(live.stdout);
    expect(live.stdout).toMatch(/^bash\|install ok installed \S+$/m);
    expect(live.stdout).toContain("kubesmith-no-such-package|\n");
  });
});

describe("the Kubernetes apt key, dearmored with awk and base64", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "kubesmith-dearmor-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, "keyring.gpg");

  function dearmor(armored: string): Buffer {
    const keyFile = path.join(dir, "key.asc");
    writeFileSync(keyFile, armored);
    rmSync(`${out}.kubesmith-tmp`, { force: true });
    execFileSync("sh", ["-c", script("set -eu", `key=${quote(keyFile)}`, dearmorApply(out))]);
    return readFileSync(`${out}.kubesmith-tmp`);
  }

  it("gives the bytes gpg --dearmor gives, for a real gpg export, with armor headers and CRLF line ends too", () => {
    const home = path.join(dir, "gnupg");
    execFileSync("mkdir", ["-m", "700", home]);
    const gpg = (...args: string[]) => execFileSync("gpg", ["--homedir", home, "--batch", "--quiet", ...args], { stdio: ["ignore", "pipe", "ignore"] });
    gpg("--passphrase", "", "--quick-gen-key", "kubesmith test <test@example.invalid>", "ed25519", "sign", "never");
    const armored = gpg("--armor", "--export").toString();
    const keyFile = path.join(dir, "real.asc");
    writeFileSync(keyFile, armored);
    const viaGpg = gpg("--dearmor", "--output", "-", keyFile);
    expect(viaGpg.length).toBeGreaterThan(50);
    expect(dearmor(armored).equals(viaGpg)).toBe(true);
    const withHeaders = armored.replace(/^(-----BEGIN PGP PUBLIC KEY BLOCK-----\n)\n?/, "$1Comment: a test\nVersion: GnuPG v2\n\n");
    expect(dearmor(withHeaders).equals(viaGpg)).toBe(true);
    expect(dearmor(armored.replace(/\n/g, "\r\n")).equals(viaGpg)).toBe(true);
  });

  it("reads the lab's simulated keys as the simulated gpg does", () => {
    expect(dearmor(keyArmored("kubernetes")).equals(keyBinary("kubernetes"))).toBe(true);
  });

  it("fails on a file that holds no key", () => {
    expect(() => dearmor("<html>404 Not Found</html>\n")).toThrow();
  });
});
