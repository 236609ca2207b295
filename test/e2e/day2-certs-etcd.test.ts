// Issue 14, certificates and etcd, end to end on an HA lab (3 control planes, 1 worker, 1 frontend; the
// edge add-ons the lab inventory enables): the lab clock moved to 11 months makes `certs check` and
// `status` warn; past a year the API servers refuse TLS; `certs renew` brings the API back with a year
// ahead. `etcd backup` writes a snapshot and its checksum into the state; data lost afterwards comes back
// with `etcd restore` (refused without --yes), every node Ready and `addons diff` empty.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeClient, nodeReady } from "../../src/kube/client.js";
import { kubeconfigFile } from "../../src/cluster/state.js";
import { kubesmith as runCli, type RunResult as Run } from "../helpers/cli.js";
import { labSkip, ssh, startLab, type StartedLab } from "../helpers/lab.js";

const DAY = 86_400_000;

describe.skipIf(labSkip)("certificates and etcd backup/restore on a lab of 3 control planes, 1 worker, 1 frontend", () => {
  let lab: StartedLab;
  let work = "";
  const kubesmith = (args: string[]): Promise<Run> => runCli(args, { cwd: work, env: { CI: "true" } });
  const inv = () => ["-i", lab.inventoryPath, "--state-dir", join(work, "state")];
  const setClock = (v: string) => writeFileSync(join(lab.state.dir, "clock"), `${v}\n`);
  const kube = async () => KubeClient.fromKubeconfig(readFileSync(kubeconfigFile(join(work, "state"), lab.state.name), "utf8"));

  beforeAll(async () => {
    lab = await startLab({ name: "dayc", layout: "3cp,1w,1fe" });
    work = mkdtempSync(join(tmpdir(), "kubesmith-dayc-"));
    const up = await runCli(["up", ...["-i", lab.inventoryPath, "--state-dir", join(work, "state")]], { cwd: work, env: { CI: "true" } });
    if (up.code !== 0) throw new Error(`up failed: ${up.stderr}${up.stdout.slice(-2000)}`);
  }, 900_000);
  afterAll(async () => {
    await lab?.down();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("11 months on: certs check and status warn; a year on the API refuses TLS; certs renew: a year ahead and the API answers", async () => {
    setClock("340d");
    const check = await kubesmith(["certs", "check", ...inv().slice(0, 2), "-o", "json"]);
    expect(check.code, check.stderr).toBe(0);
    const report = JSON.parse(check.stdout) as { certificates: { host: string; name: string; ca: boolean; residualMs: number; residual: string }[]; warnings: string[] };
    expect([...new Set(report.certificates.map((c) => c.host))].sort()).toEqual(["lab-1", "lab-2", "lab-3"]);
    // eleven certificates on the init host (super-admin.conf only there), ten elsewhere, three CAs each
    expect(report.certificates.filter((c) => c.host === "lab-1" && !c.ca)).toHaveLength(11);
    expect(report.certificates.filter((c) => c.host === "lab-2" && !c.ca)).toHaveLength(10);
    expect(report.certificates.filter((c) => c.ca).map((c) => c.residual)).toEqual(Array(9).fill("9y"));
    const apiserver = report.certificates.find((c) => c.host === "lab-2" && c.name === "apiserver")!;
    expect(apiserver.residual).toMatch(/^2[45]d$/);
    // sorted soonest first; a warning per certificate under 30 days
    expect(report.certificates.map((c) => c.residualMs)).toEqual([...report.certificates.map((c) => c.residualMs)].sort((a, b) => a - b));
    expect(report.warnings).toContainEqual(expect.stringMatching(/^lab-2: apiserver expires in 2[45]d \(.+ UTC\); run 'kubesmith certs renew'$/));
    expect(report.warnings.filter((w) => / expires in /.test(w))).toHaveLength(31);

    const status = await kubesmith(["status", ...inv().slice(0, 2)]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^warning: lab-1: apiserver expires in 2[45]d/m);

    // past the serving certificate's year: every API server refuses the handshake
    setClock("370d");
    const down = await kubesmith(["status", ...inv().slice(0, 2)]);
    expect(down.code, down.stdout).toBe(11);
    expect(down.stdout).toMatch(/apiserver has EXPIRED/);
    // certs check reports it and exits 17 (its report on stdout, the one line on stderr)
    const expired = await kubesmith(["certs", "check", ...inv().slice(0, 2), "-o", "json"]);
    expect(expired.code, expired.stderr).toBe(17);
    expect((JSON.parse(expired.stdout) as typeof report).warnings).toContainEqual(expect.stringMatching(/^lab-2: apiserver has EXPIRED/));
    expect(expired.stderr).toMatch(/^kubesmith: \d+ certificate\(s\) have expired: lab-\d \S+.* \(run 'kubesmith certs renew'\)\n$/);
    const curl = await ssh(lab.state, "lab-4", `curl -sk --max-time 5 https://${lab.state.hosts[1]!.address}:6443/readyz`);
    expect(curl.code).not.toBe(0);

    const refused = await kubesmith(["certs", "renew", ...inv()]);
    expect(refused.code).toBe(14);
    const renew = await kubesmith(["certs", "renew", ...inv(), "--yes"]);
    expect(renew.code, renew.stderr + renew.stdout.slice(-3000)).toBe(0);
    const after = JSON.parse((await kubesmith(["certs", "check", ...inv().slice(0, 2), "-o", "json"])).stdout) as typeof report;
    for (const c of after.certificates.filter((x) => !x.ca)) expect(c.residualMs, `${c.host} ${c.name}`).toBeGreaterThan(360 * DAY);
    expect(after.warnings).toEqual([]);
    // the API answers through every control plane, and the kept kubeconfig still works
    for (const h of lab.state.hosts.slice(0, 3)) {
      const r = await ssh(lab.state, "lab-4", `curl -sk --max-time 5 https://${h.address}:6443/readyz`);
      expect(r.stdout, h.name).toBe("ok");
    }
    const k = await kube();
    try {
      expect((await k.list("v1", "Node")).every(nodeReady)).toBe(true);
    } finally {
      k.close();
    }
    const ok = await kubesmith(["status", ...inv().slice(0, 2)]);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).not.toMatch(/expires in|EXPIRED/);
    const diff = await kubesmith(["addons", "diff", ...inv()]);
    expect(diff.code, diff.stdout.slice(-2000)).toBe(0);
  }, 900_000);

  it("etcd backup into the state, data lost, etcd restore (refused without --yes) brings it back; nodes Ready, addons diff empty", async () => {
    const k = await kube();
    try {
      await k.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "precious" } });
      await k.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "keep-me", namespace: "precious" }, data: { answer: "42" } } as never);
    } finally {
      k.close();
    }
    const backup = await kubesmith(["etcd", "backup", ...inv()]);
    expect(backup.code, backup.stderr + backup.stdout.slice(-2000)).toBe(0);
    const dir = join(work, "state", lab.state.name, "backups");
    const files = readdirSync(dir).filter((f) => f.endsWith(".db"));
    expect(files).toHaveLength(1);
    const snap = join(dir, files[0]!);
    const sum = readFileSync(`${snap}.sha256`, "utf8");
    expect(sum).toBe(`${createHash("sha256").update(readFileSync(snap)).digest("hex")}  ${files[0]}\n`);
    const meta = JSON.parse(readFileSync(`${snap}.json`, "utf8")) as { revision: number; totalKey: number };
    expect(meta.revision).toBeGreaterThan(0);
    expect(meta.totalKey).toBeGreaterThan(10);
    // the remote copy is gone
    for (const h of ["lab-1", "lab-2", "lab-3"]) expect((await ssh(lab.state, h, "ls /var/lib/etcd")).stdout.trim()).toBe("member");

    // lose data: the ConfigMap and its namespace; and make something the restore will take away
    const k2 = await kube();
    try {
      expect(await k2.delete("v1", "ConfigMap", "keep-me", "precious")).toBe(true);
      expect(await k2.delete("v1", "Namespace", "precious")).toBe(true);
      await k2.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "made-after" } });
    } finally {
      k2.close();
    }

    const refused = await kubesmith(["etcd", "restore", ...inv(), snap]);
    expect(refused.code).toBe(14);
    expect(refused.stdout).toMatch(/every change made after the snapshot is lost/);
    expect(refused.stdout).toMatch(/namespaces created after the snapshot, and everything in them, are lost: made-after/);
    const restore = await kubesmith(["etcd", "restore", ...inv(), snap, "--yes"]);
    expect(restore.code, restore.stderr + restore.stdout.slice(-3000)).toBe(0);

    const k3 = await kube();
    try {
      const cm = await k3.get("v1", "ConfigMap", "keep-me", "precious");
      expect((cm as { data?: Record<string, string> } | undefined)?.data).toEqual({ answer: "42" });
      expect(await k3.get("v1", "Namespace", "made-after")).toBeUndefined();
      const nodes = await k3.list("v1", "Node");
      expect(nodes.map((n) => n.metadata.name).sort()).toEqual(["lab-1", "lab-2", "lab-3", "lab-4", "lab-5"]);
      for (const n of nodes) expect(nodeReady(n), n.metadata.name).toBe(true);
    } finally {
      k3.close();
    }
    const diff = await kubesmith(["addons", "diff", ...inv()]);
    expect(diff.code, diff.stdout.slice(-2000)).toBe(0);
    expect(existsSync(`${snap}.sha256`)).toBe(true);
  }, 900_000);
});
