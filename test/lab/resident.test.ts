// The resident node simulator (src/lab/sim/resident.ts) and its bash client (src/lab/sim/shim.ts): the
// request format (no lab), then on a 1-host lab (lab "resid"): stdout, stderr, stdin, exit codes,
// redirections, cwd, concurrent commands, a killed client, the fallbacks to a Node start, and teardown.
import { existsSync, readFileSync, readlinkSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setLabFaults, SIM_TOOLS } from "../../src/lab/lab.js";
import { findProgram } from "../../src/lab/requirements.js";
import { isAlive } from "../../src/lab/procs.js";
import { parseRequest } from "../../src/lab/sim/resident.js";
import { BASH_CLIENT_DIR, RESIDENT_PORT, simShim } from "../../src/lab/sim/shim.js";
import { labSkip, ssh, startLab, waitFor, type StartedLab } from "../helpers/lab.js";

const req = (...fields: string[]) => Buffer.from(fields.map((f) => `${f}\0`).join(""));

describe("resident simulator request", () => {
  it("is complete once argc arguments have arrived; arguments keep spaces, quotes and newlines", () => {
    expect(parseRequest(req("kubesim1", "k", "42", "2", "kubeadm"))).toBeUndefined();
    expect(parseRequest(Buffer.from("kubesim1\0k\0"))).toBeUndefined();
    expect(parseRequest(req("kubesim1", "k", "42", "3", "kubeadm", "a b", "'x'\n\"y\""))).toEqual({
      key: "k",
      pid: 42,
      argv: ["kubeadm", "a b", "'x'\n\"y\""],
    });
    expect(parseRequest(req("kubesim1", "k", "42", "2", "apt-get", ""))).toEqual({ key: "k", pid: 42, argv: ["apt-get", ""] });
  });

  it("refuses what no client sends", () => {
    expect(() => parseRequest(req("GET / HTTP/1.1"))).toThrow(/not a kubesim client/);
    expect(() => parseRequest(req("kubesim1", "k", "0", "1", "kubeadm"))).toThrow(/bad pid/);
    expect(() => parseRequest(req("kubesim1", "k", "7", "0"))).toThrow(/bad argc/);
  });

  it("the shim is the Node start without resident, a bash client with it", () => {
    const o = { labDir: "/var/lab/x", tool: "kubeadm", node: "/usr/bin/node", main: "/p/main.js" };
    expect(simShim({ ...o, resident: false })).toBe(`#!/bin/sh\nKUBESIM_LAB_DIR='/var/lab/x' exec '/usr/bin/node' '/p/main.js' kubeadm "$@"\n`);
    const client = simShim({ ...o, resident: true });
    expect(client.startsWith("#!/bin/bash\n")).toBe(true);
    expect(client).toContain("/dev/tcp/127.0.0.1/7437");
    // the fallback is the same Node start
    expect(client.endsWith(`KUBESIM_LAB_DIR='/var/lab/x' exec '/usr/bin/node' '/p/main.js' kubeadm "$@"\n`)).toBe(true);
  });
});

describe.skipIf(labSkip)("resident simulator on a lab host (lab 1 host)", () => {
  let lab: StartedLab;
  let host = "";
  const run = (cmd: string, opts: { user?: string; input?: string } = {}) => ssh(lab.state, host, cmd, opts);
  const hostDir = () => lab.state.hosts[0]!.dir;
  const commands = () =>
    readFileSync(path.join(hostDir(), "commands.log"), "utf8")
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { argv: string[]; exitCode: number | null; uid: number });
  const residentPid = (): number | undefined => {
    try {
      return (JSON.parse(readFileSync(path.join(hostDir(), "procs", "resident.json"), "utf8")) as { pid: number }).pid;
    } catch {
      return undefined;
    }
  };

  let compiled = false;

  beforeAll(async () => {
    lab = await startLab({ name: "resid", hosts: 1 });
    host = lab.state.hosts[0]!.name;
    compiled = readFileSync(path.join(lab.state.dir, "simbin", "kubeadm")).subarray(0, 4).equals(Buffer.from("\x7fELF", "latin1"));
  }, 120_000);

  it("every simulated command is the compiled client when this machine has a C compiler (CI installs one)", () => {
    expect(compiled).toBe(findProgram("cc") !== undefined || findProgram("gcc") !== undefined);
    if (process.env.CI) expect(compiled).toBe(true);
    const bin = path.join(lab.state.dir, "simbin");
    if (compiled) {
      for (const tool of SIM_TOOLS) {
        expect(statSync(path.join(bin, tool)).ino).toBe(statSync(path.join(bin, "kubeadm")).ino);
        expect(readFileSync(path.join(bin, BASH_CLIENT_DIR, tool), "utf8")).toContain(`/dev/tcp/127.0.0.1/${RESIDENT_PORT}`);
      }
    }
  });
  afterAll(async () => {
    await lab?.down();
  });

  it("stat answers the cgroup question from the host's simulated hardware; every other stat is the real one", async () => {
    // (the simulator writes this file when it first needs it; none yet on this fresh host)
    expect((await run("ls /var/lib/kubesim/hardware.json")).code).not.toBe(0);
    expect((await run("stat -fc %T /sys/fs/cgroup/")).stdout).toBe("cgroup2fs\n");
    try {
      for (const [cgroup, fsType] of [["v1", "tmpfs"], ["v2", "cgroup2fs"]] as const) {
        await run(`mkdir -p /var/lib/kubesim && printf '{"cpus": 2,\n "cgroup" : "${cgroup}"}\n' > /var/lib/kubesim/hardware.json`);
        for (const q of ["stat -fc %T /sys/fs/cgroup/", "stat -f -c %T /sys/fs/cgroup"]) expect((await run(q)).stdout).toBe(`${fsType}\n`);
      }
    } finally {
      await run("rm -f /var/lib/kubesim/hardware.json");
    }
    const real = await run("stat -c '%a %U' /root; stat -f -c %T /; stat /nonexistent");
    expect(real.stdout.split("\n").slice(0, 2)).toEqual(["700 root", readFileSync("/proc/self/mounts", "utf8").includes(" / overlay ") ? "overlayfs" : expect.any(String)]);
    expect(real.code).toBe(1);
    expect(real.stderr).toMatch(/^stat: cannot statx? '\/nonexistent': No such file or directory/);
    if (compiled) expect(statSync(path.join(lab.state.dir, "simbin", "stat")).ino).toBe(statSync(path.join(lab.state.dir, "simbin", "kubeadm")).ino);
  });

  it("the first command starts one resident simulator in the host's namespaces; the next ones use it", async () => {
    const first = await run("kubeadm version -o short");
    expect(first).toMatchObject({ code: 0, stdout: "v1.36.3\n", stderr: "" });
    const pid = residentPid();
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid!)).toBe(true);
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")).toContain("--resident");
    // same network namespace as the host's sshd
    for (const ns of ["net", "mnt", "uts"]) expect(readlinkSync(`/proc/${pid}/ns/${ns}`)).toBe(readlinkSync(`/proc/${lab.state.hosts[0]!.sshd!.pid}/ns/${ns}`));
    for (let i = 0; i < 3; i++) expect((await run("systemctl is-active kubelet")).stdout).toBe("inactive\n");
    expect(residentPid()).toBe(pid);
    // its own session: a command's process group being killed does not take it along
    const sid = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[3];
    expect(Number(sid)).toBe(pid);
  }, 60_000);

  it("stdout, stderr and exit codes reach the client as from a Node start; redirections and pipes hold", async () => {
    const bad = await run("kubeadm nosuch");
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toMatch(/^unknown command "nosuch" for "kubeadm"/);
    expect((await run("systemctl is-active kubelet")).code).toBe(3);
    // output into a file the shell opened, between the shell's own writes (the file offset is shared: a Node
    // start of its own), and through a pipe
    const file = await run("{ echo a; kubeadm version -o short; echo b; } > /root/out && cat /root/out && kubeadm version -o short | tr v V");
    expect(file).toMatchObject({ code: 0, stdout: "a\nv1.36.3\nb\nV1.36.3\n" });
    const stdinFile = await run("printf 'hi\\n' > /root/in; { read -r l; gpg --enarmor; } < /root/in | grep -c BEGIN");
    expect(stdinFile.stdout).toBe("1\n");
    const both = await run("kubeadm nosuch 2>&1 >/dev/null | head -1");
    expect(both.stdout).toMatch(/^unknown command "nosuch"/);
    // exit codes from faults, and the unknown tool
    setLabFaults(lab.state.name, [{ host, command: "modprobe exitme", exitCode: 42, fail: "modprobe: FATAL: no such module" }]);
    try {
      expect(await run("modprobe exitme")).toMatchObject({ code: 42, stdout: "", stderr: "modprobe: FATAL: no such module\n" });
    } finally {
      setLabFaults(lab.state.name, []);
    }
    const log = commands();
    expect(log.at(-1)).toMatchObject({ argv: ["modprobe", "exitme"], exitCode: 42, uid: 0 });
  }, 60_000);

  it("stdin, arguments with spaces and quotes, and the working directory are the client's", async () => {
    const armored = await run("gpg --enarmor", { input: "hello\n" });
    expect(armored.code, armored.stderr).toBe(0);
    expect(armored.stdout).toContain("-----BEGIN PGP ARMORED FILE-----");
    expect(armored.stdout).toContain("aGVsbG8K"); // base64 of "hello\n"
    // relative paths resolve against the client's cwd
    const rel = await run("mkdir -p /root/w && cd /root/w && printf 'x' > in && gpg --enarmor --output 'o u t.asc' in && cat '/root/w/o u t.asc'");
    expect(rel.code, rel.stderr).toBe(0);
    expect(rel.stdout).toContain("eA=="); // base64 of "x"
    await run("sysctl -w 'kernel.domainname=a b'");
    const args = commands().at(-1)!;
    expect(args.argv).toEqual(["sysctl", "-w", "kernel.domainname=a b"]);
  }, 60_000);

  it("commands on one host run concurrently: a delayed command does not hold up the others", async () => {
    setLabFaults(lab.state.name, [{ host, command: "modprobe slow", delayMs: 3000 }]);
    try {
      const r = await run(
        "(modprobe slow; echo slow=$? >> /root/order) & for i in 1 2 3 4 5 6 7 8; do (systemctl is-active kubelet >/dev/null; echo fast$i=$? >> /root/order) & done; wait; cat /root/order",
      );
      const lines = r.stdout.trim().split("\n");
      expect(lines).toHaveLength(9);
      expect(lines.at(-1)).toBe("slow=0");
      expect(lines.slice(0, 8).sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((i) => `fast${i}=3`).sort());
    } finally {
      setLabFaults(lab.state.name, []);
    }
  }, 60_000);

  it("a client killed during a fault's delay: the command is not run or recorded, the simulator serves on", async () => {
    setLabFaults(lab.state.name, [{ host, command: "sysctl -w", delayMs: 2000 }]);
    try {
      const before = commands().length;
      const pid = residentPid();
      const r = await run("sysctl -w kernel.domainname=killed & c=$!; sleep 0.5; kill -9 $c; wait $c; echo rc=$?");
      expect(r.stdout).toBe("rc=137\n");
      await new Promise((res) => setTimeout(res, 2500)); // past the delay
      expect(commands().slice(before).map((c) => c.argv.join(" "))).not.toContain("sysctl -w kernel.domainname=killed");
      expect((await run("cat /etc/sysctl.d/* 2>/dev/null; sysctl -n kernel.domainname")).stdout).not.toContain("killed");
      expect(residentPid()).toBe(pid);
      expect((await run("kubeadm version -o short")).stdout).toBe("v1.36.3\n");
    } finally {
      setLabFaults(lab.state.name, []);
    }
  }, 60_000);

  it("falls back to a Node start for a user that is not root and with KUBESIM_RESIDENT=0", async () => {
    const user = lab.state.user.name;
    const before = commands().length;
    const asUser = await run("kubeadm version -o short; systemctl is-active kubelet", { user });
    expect(asUser.stdout).toBe("v1.36.3\ninactive\n");
    const entries = commands().slice(before);
    expect(entries.map((e) => e.uid)).toEqual([lab.state.user.uid, lab.state.user.uid]);
    // bash's trace (SHELLOPTS=xtrace from the environment) shows which way the command went: the compiled
    // client (no bash: no trace) hands every case but a root command with plain stdio to the bash client
    const traced = (r: { stderr: string }) =>
      r.stderr === "" ? "compiled" : /kubesim1/.test(r.stderr) ? "resident" : /exec \S*node \S*main\.js kubeadm version/.test(r.stderr) ? "node" : "?";
    const cmd = "env SHELLOPTS=xtrace kubeadm version -o short";
    expect(traced(await run(cmd, { user }))).toBe("node");
    expect(traced(await run(`KUBESIM_RESIDENT=0 ${cmd}`))).toBe("node");
    const root = await run(cmd);
    expect(traced(root)).toBe(compiled ? "compiled" : "resident");
    expect(root.stdout).toBe("v1.36.3\n");
    // stdout a regular file: the bash client, and then a Node start of its own
    const toFile = await run(`${cmd} > /root/v; cat /root/v`);
    expect(traced(toFile)).toBe("node");
    expect(toFile.stdout).toBe("v1.36.3\n");
  }, 60_000);

  it("lab down removes the resident simulator and its key", async () => {
    const pid = residentPid()!;
    expect(existsSync(path.join(hostDir(), "procs", "resident.json"))).toBe(true);
    await lab.down();
    expect(await waitFor(() => !isAlive(pid), 5000)).toBe(true);
  }, 60_000);
});
