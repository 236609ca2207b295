// Host bundles over real SSH on two lab hosts: packages, a plain and a secret file, a validated keepalived
// configuration with the real daemon (restarted when its config changes), converge on the second run,
// a rejected configuration left unapplied, prune of a dropped file, dry run, remove.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AddonError } from "../../src/addons/errors.js";
import { applyHostRelease, hostManifestPath, removeHostRelease, type HostTarget } from "../../src/addons/hostapply.js";
import type { RenderedHostFile, RenderedHosts } from "../../src/addons/types.js";
import { loadInventory } from "../../src/inventory/load.js";
import type { PhaseContext } from "../../src/phases/run.js";
import { SshPool } from "../../src/ssh/pool.js";
import { targetsFromInventory } from "../../src/ssh/targets.js";
import { MemoryReporter } from "../../src/ui/events.js";
import { labSkip, requireRoot, ssh, startLab, type StartedLab } from "../helpers/lab.js";

const kaConf = (prio: number, vip: string, extra = "") => `global_defs {
  router_id kubesmith_demo
}
vrrp_instance EDGE {
  state BACKUP
  interface eth0
  virtual_router_id 77
  priority ${prio}
  advert_int 1
  virtual_ipaddress {
    ${vip}/24
  }${extra}
}
`;

describe.skipIf(labSkip)("host bundle apply on lab hosts", () => {
  let lab: StartedLab;
  let pool: SshPool;
  let targets: HostTarget[];
  let vip: string;

  beforeAll(async () => {
    requireRoot();
    lab = await startLab({ name: "hostaddon", hosts: 2 });
    const loaded = await loadInventory(lab.inventoryPath);
    pool = new SshPool({ concurrency: 4 });
    const ts = targetsFromInventory(loaded.inventory, { baseDir: path.dirname(lab.inventoryPath) });
    targets = await Promise.all(ts.map(async (t) => ({ name: t.name, runner: await pool.connect(t), packageManager: "apt" as const })));
    const a = lab.state.hosts[0]!.address.split(".");
    vip = lab.state.vips.edge ?? `${a[0]}.${a[1]}.${a[2]}.240`;
  }, 120_000);
  afterAll(async () => {
    await pool?.closeAll();
    await lab?.down();
  });

  const ctx = (dryRun = false): PhaseContext => ({ dryRun, reporter: new MemoryReporter(), concurrency: 4, phase: "addons", changes: [] });

  function render(opts: { withExtra?: boolean; prio?: number; badConf?: boolean } = {}): RenderedHosts {
    const files: Record<string, RenderedHostFile[]> = {};
    lab.state.hosts.forEach((h, i) => {
      const f: RenderedHostFile[] = [
        { path: "/etc/kubesmith-demo/app.conf", content: `host=${h.name}\nindex=${i}\n`, mode: 0o644, secret: false },
        { path: "/etc/kubesmith-demo/token", content: "tok-$(not run)-'quoted'", mode: 0o600, secret: true },
        {
          path: "/etc/keepalived/keepalived.conf",
          content: opts.badConf ? kaConf(100 + i, vip, "\n  no_such_keyword 1") : kaConf((opts.prio ?? 100) + i, vip),
          mode: 0o640,
          secret: false,
          validate: "keepalived -t -f %s",
          restart: ["keepalived"],
        },
      ];
      if (opts.withExtra) f.push({ path: "/etc/kubesmith-demo/extra.conf", content: "extra\n", mode: 0o644, secret: false });
      files[h.name] = f;
    });
    return { bundle: "demo-edge", release: { name: "demo-edge", namespace: "kube-system" }, files, packages: { apt: ["keepalived"], dnf: ["keepalived"] }, services: ["keepalived"] };
  }

  const keepalivedPid = async (host: string) => (await ssh(lab.state, host, "systemctl status keepalived | sed -n 's/.*Main PID: \\([0-9]*\\).*/\\1/p'")).stdout.trim();

  it("dry run lists the changes and changes nothing", async () => {
    const c = ctx(true);
    await applyHostRelease(c, render({ withExtra: true }), targets);
    expect(c.changes.filter((x) => x.host === "lab-1").map((x) => x.what)).toEqual([
      "demo-edge: install keepalived",
      "demo-edge: write /etc/kubesmith-demo/app.conf",
      "demo-edge: write /etc/kubesmith-demo/token",
      "demo-edge: write /etc/keepalived/keepalived.conf (checked with 'keepalived -t -f /etc/keepalived/keepalived.conf' first)",
      "demo-edge: write /etc/kubesmith-demo/extra.conf",
      "demo-edge: restart keepalived (its configuration changed)",
      `demo-edge: record the release's files in ${hostManifestPath("demo-edge")}`,
      "demo-edge: enable and start keepalived",
    ]);
    expect((await ssh(lab.state, "lab-1", "test -e /etc/kubesmith-demo/app.conf; echo $?")).stdout.trim()).toBe("1");
  });

  it("applies, then converges: the second run changes nothing", async () => {
    const first = ctx();
    const n1 = await applyHostRelease(first, render({ withExtra: true }), targets);
    expect([...n1.values()].every((n) => n >= 6)).toBe(true);
    for (const [i, h] of lab.state.hosts.entries()) {
      const r = await ssh(lab.state, h.name, "cat /etc/kubesmith-demo/app.conf; stat -c %a /etc/kubesmith-demo/token; cat /etc/kubesmith-demo/token; systemctl is-active keepalived; stat -c %a /etc/keepalived/keepalived.conf");
      expect(r.stdout).toBe(`host=${h.name}\nindex=${i}\n600\ntok-$(not run)-'quoted'\nactive\n640\n`);
    }
    const manifest = JSON.parse((await ssh(lab.state, "lab-2", `cat ${hostManifestPath("demo-edge")}`)).stdout) as { files: { path: string }[] };
    expect(manifest.files.map((f) => f.path)).toContain("/etc/kubesmith-demo/extra.conf");

    const second = ctx();
    const n2 = await applyHostRelease(second, render({ withExtra: true }), targets);
    expect(second.changes).toEqual([]);
    expect([...n2.values()]).toEqual([0, 0]);
  });

  it("a changed config restarts its service; a dropped file is pruned", async () => {
    const before = await keepalivedPid("lab-1");
    expect(before).toMatch(/^\d+$/);
    const c = ctx();
    await applyHostRelease(c, render({ prio: 120 }), targets);
    const whats = c.changes.filter((x) => x.host === "lab-1").map((x) => x.what);
    expect(whats).toEqual([
      "demo-edge: write /etc/keepalived/keepalived.conf (checked with 'keepalived -t -f /etc/keepalived/keepalived.conf' first)",
      "demo-edge: remove /etc/kubesmith-demo/extra.conf (no longer rendered)",
      "demo-edge: restart keepalived (its configuration changed)",
      `demo-edge: record the release's files in ${hostManifestPath("demo-edge")}`,
    ]);
    expect((await ssh(lab.state, "lab-1", "test -e /etc/kubesmith-demo/extra.conf; echo $?")).stdout.trim()).toBe("1");
    expect((await ssh(lab.state, "lab-1", "grep priority /etc/keepalived/keepalived.conf")).stdout.trim()).toBe("priority 120");
    const after = await keepalivedPid("lab-1");
    expect(after).toMatch(/^\d+$/);
    expect(after).not.toBe(before);
    // converged again
    const again = ctx();
    await applyHostRelease(again, render({ prio: 120 }), targets);
    expect(again.changes).toEqual([]);
  });

  it("a configuration its validate command rejects is not installed, and the error shows the output", async () => {
    const err = await applyHostRelease(ctx(), render({ prio: 120, badConf: true }), targets.slice(0, 1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AddonError);
    expect((err as AddonError).message).toMatch(/lab-1: \/etc\/keepalived\/keepalived.conf was rejected by its validate command.*no_such_keyword/);
    const r = await ssh(lab.state, "lab-1", "grep -c no_such_keyword /etc/keepalived/keepalived.conf; ls /etc/keepalived/ | grep -c kubesmith-tmp");
    expect(r.stdout).toBe("0\n0\n");
    expect((await ssh(lab.state, "lab-1", "systemctl is-active keepalived")).stdout.trim()).toBe("active");
  });

  it("remove stops its services and deletes the release's files and its manifest", async () => {
    const c = ctx();
    await removeHostRelease(c, "demo-edge", targets);
    expect(c.changes.map((x) => x.what)).toContain("demo-edge: stop and disable keepalived");
    const svc = await ssh(lab.state, "lab-2", "systemctl is-active keepalived; systemctl is-enabled keepalived");
    expect(svc.stdout.trim().split("\n")).toEqual(["inactive", "disabled"]);
    const r = await ssh(lab.state, "lab-2", `ls /etc/kubesmith-demo/ 2>/dev/null | wc -l; test -e ${hostManifestPath("demo-edge")}; echo $?; test -e /etc/keepalived/keepalived.conf; echo $?`);
    expect(r.stdout).toBe("0\n1\n1\n");
    const again = ctx();
    await removeHostRelease(again, "demo-edge", targets);
    expect(again.changes).toEqual([]);
  });
});
