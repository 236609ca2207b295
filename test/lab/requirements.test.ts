// The one list of programs the lab and the tests need, and `lab setup`, which installs them through apt-get.
// A fake apt-get (a shell script that records its arguments and "installs" by creating the program) lets
// the install path run here without touching the machine; the demo's error path runs for real.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LabError } from "../../src/errors.js";
import { findProgram, missingPrograms, packagesFor, PROGRAMS, setupMachine, type Program } from "../../src/lab/requirements.js";
import { packageRoot } from "../../src/lab/paths.js";
import { isRoot, labSkip } from "../helpers/lab.js";

function fakeApt(dir: string, binDir: string): string {
  const apt = path.join(dir, "apt-get");
  writeFileSync(
    apt,
    `#!/bin/sh
echo "$*" >> ${dir}/apt.log
[ "$1" = install ] || exit 0
for a in "$@"; do case "$a" in fakepkg-*) n=\${a#fakepkg-}; printf '#!/bin/sh\\n' > ${binDir}/$n; chmod 755 ${binDir}/$n;; broken) echo "E: Unable to locate package broken" >&2; exit 100;; esac; done
`,
  );
  chmodSync(apt, 0o755);
  return apt;
}

const prog = (name: string, pkg: string): Program => ({ name, pkg, need: "lab", why: `the test needs ${name}` });

describe("requirements", () => {
  it("every program the tests call is on the list, with its package", () => {
    for (const name of ["sshd", "keepalived", "nft", "iptables", "ip", "unshare", "openssl", "promtool", "tmux", "arping", "chromium", "kubectl", "sudo"]) {
      const p = PROGRAMS.find((x) => x.name === name);
      expect(p, name).toBeDefined();
      expect(p!.pkg).toMatch(/^[a-z0-9][a-z0-9.+-]+$/);
    }
    expect(PROGRAMS.find((x) => x.name === "nft")!.pkg).toBe("nftables");
  });

  it("finds a program on PATH only when it is executable", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "ks-req-"));
    const f = path.join(dir, "ks-only-here");
    writeFileSync(f, "#!/bin/sh\n");
    const old = process.env.PATH;
    process.env.PATH = `${dir}:${old}`;
    try {
      expect(findProgram("ks-only-here")).toBeUndefined();
      chmodSync(f, 0o755);
      expect(findProgram("ks-only-here")).toBe(f);
      expect(missingPrograms(["lab"], [prog("ks-only-here", "x"), prog("ks-absent-1", "fakepkg-ks-absent-1")]).map((p) => p.name)).toEqual(["ks-absent-1"]);
    } finally {
      process.env.PATH = old;
    }
  });

  it("installs the missing packages with apt-get (update first), saying what and why before it does", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "ks-req-"));
    const bin = path.join(dir, "bin");
    mkdirSync(bin);
    const old = process.env.PATH;
    process.env.PATH = `${bin}:${old}`;
    const log: string[] = [];
    try {
      const programs = [prog("ks-absent-a", "fakepkg-ks-absent-a"), prog("ks-absent-b", "fakepkg-ks-absent-b")];
      const pkgs = setupMachine({ needs: ["lab"], programs, aptGet: fakeApt(dir, bin), isRoot: true, log: (l) => log.push(l) });
      expect(pkgs).toContain("fakepkg-ks-absent-a");
      const calls = readFileSync(path.join(dir, "apt.log"), "utf8").trim().split("\n");
      expect(calls[0]).toBe("update -qq");
      expect(calls[1]).toMatch(/^install -y -qq --no-install-recommends fakepkg-ks-absent-a fakepkg-ks-absent-b/);
      const said = log.findIndex((l) => l.startsWith("installing with apt-get: fakepkg-ks-absent-a fakepkg-ks-absent-b"));
      expect(said).toBeGreaterThan(0);
      expect(log.slice(0, said).join("\n")).toMatch(/missing: ks-absent-a \(fakepkg-ks-absent-a\)/);
      expect(log.join("\n")).toMatch(/the test needs ks-absent-b/);
      // Run again: nothing missing, apt-get not called.
      const again: string[] = [];
      expect(setupMachine({ needs: ["lab"], programs, aptGet: fakeApt(dir, bin), isRoot: true, log: (l) => again.push(l) })).toEqual([]);
      expect(readFileSync(path.join(dir, "apt.log"), "utf8").trim().split("\n")).toHaveLength(2);
    } finally {
      process.env.PATH = old;
    }
  });

  it("refuses clearly without apt-get, without root, and when apt-get fails; --dry-run installs nothing", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "ks-req-"));
    const programs = [prog("ks-absent-c", "fakepkg-ks-absent-c")];
    const noApt = () => setupMachine({ needs: ["lab"], programs, aptGet: null, isRoot: true, log: () => {} });
    expect(noApt).toThrow(LabError);
    expect(noApt).toThrow(/cannot install ks-absent-c \(fakepkg-ks-absent-c\): this system has no apt-get/);
    const notRoot = () => setupMachine({ needs: ["lab"], programs, aptGet: fakeApt(dir, dir), isRoot: false, log: () => {} });
    expect(notRoot).toThrow(/installing fakepkg-ks-absent-c( [a-z-]+)* needs root/);
    const broken = () => setupMachine({ needs: ["lab"], programs: [prog("ks-absent-d", "broken")], aptGet: fakeApt(dir, dir), isRoot: true, log: () => {} });
    expect(broken).toThrow(/apt-get install broken( [a-z-]+)* failed \(apt-get exited 100\): E: Unable to locate package broken/);
    const log: string[] = [];
    expect(setupMachine({ needs: ["lab"], programs, aptGet: fakeApt(dir, dir), isRoot: true, dryRun: true, log: (l) => log.push(l) })).toEqual([]);
    expect(log.join("\n")).toMatch(/would install with apt-get: fakepkg-ks-absent-c/);
    expect(packagesFor(programs, ["tests"])).toEqual(["fakepkg-ks-absent-c", "fonts-dejavu-core", "libc6-dev"]);
  });

  it("the test-run check fails under CI naming the program and its package, and only warns elsewhere", async () => {
    const { default: setup } = await import("../setup/requirements.js");
    const old = process.env.PATH;
    const oldCi = process.env.CI;
    // An empty PATH still finds programs in the sbin/bin directories: the check can only be made to fail
    // here when something is really missing, so assert both outcomes against what the machine has.
    const missing = missingPrograms(["lab", "tests"]);
    try {
      process.env.CI = "true";
      if (missing.length) expect(() => setup()).toThrow(new RegExp(`${missing[0]!.name} \\(${missing[0]!.pkg}\\)`));
      else expect(() => setup()).not.toThrow();
      delete process.env.CI;
      expect(() => setup()).not.toThrow();
    } finally {
      process.env.PATH = old;
      if (oldCi === undefined) delete process.env.CI;
      else process.env.CI = oldCi;
    }
  });
});

describe.skipIf(labSkip)("npm run demo reports a failing step", () => {
  it("prints the lab's one-line error and hint, exits with its code, and leaves a lab it did not make alone", () => {
    if (!isRoot) throw new Error("CI is set: the demo test needs root");
    const root = mkdtempSync(path.join(os.tmpdir(), "ks-demo-"));
    mkdirSync(path.join(root, "demo"));
    const r = spawnSync(process.execPath, [path.join(packageRoot(), "dist", "demo.js")], {
      cwd: root,
      env: { ...process.env, KUBESMITH_LAB_DIR: root },
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status, r.stdout + r.stderr).toBe(10);
    expect(r.stderr).toMatch(/^kubesmith: lab 'demo' is already up \(state in .*\) \(run kubesmith lab down --name demo first\)$/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).not.toMatch(/removing the lab/);
    expect(spawnSync("test", ["-d", path.join(root, "demo")]).status).toBe(0);
  });
});
