// keepalived is real: started by the simulated systemctl inside each host's namespaces; VRRP fails over.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAlive } from "../../src/lab/lab.js";
import type { ProcRef } from "../../src/lab/types.js";
import { labSkip, requireRoot, ssh, startLab, waitFor, type StartedLab } from "../helpers/lab.js";

const conf = (state: "MASTER" | "BACKUP", priority: number, vip: string) => `global_defs {
  vrrp_version 3
}
vrrp_instance VI_1 {
  state ${state}
  interface eth0
  virtual_router_id 51
  priority ${priority}
  advert_int 0.1
  virtual_ipaddress {
    ${vip}/24
  }
}
`;

describe.skipIf(labSkip)("lab keepalived", () => {
  let lab: StartedLab;
  let downed = false;
  beforeAll(async () => {
    requireRoot();
    lab = await startLab({ name: "lt-vrrp", layout: "2cp" });
  });
  afterAll(async () => {
    if (!downed) await lab?.down();
  });

  const hasVip = (ns: string, vip: string) => execFileSync("ip", ["-n", ns, "-4", "-o", "addr", "show", "dev", "eth0"], { encoding: "utf8" }).includes(` ${vip}/`);

  it("starts via systemctl, holds the VIP on the MASTER, and moves it to the BACKUP when stopped", async () => {
    const vip = lab.state.vips.controlPlane!;
    const [h1, h2] = lab.state.hosts as [(typeof lab.state.hosts)[0], (typeof lab.state.hosts)[0]];
    for (const [h, role, prio] of [[h1, "MASTER", 150], [h2, "BACKUP", 100]] as const) {
      const r = await ssh(lab.state, h.name, "mkdir -p /etc/keepalived && cat > /etc/keepalived/keepalived.conf && systemctl start keepalived && systemctl is-active keepalived", {
        input: conf(role, prio, vip),
      });
      expect(r.stdout.trim(), r.stderr).toBe("active");
    }
    expect(await waitFor(() => hasVip(h1.namespace, vip), 10_000)).toBe(true);
    expect(hasVip(h2.namespace, vip)).toBe(false);
    // the daemon runs inside the host's network namespace
    const ref = JSON.parse(readFileSync(path.join(h1.dir, "procs", "keepalived.json"), "utf8")) as ProcRef;
    expect(execFileSync("ip", ["netns", "identify", String(ref.pid)], { encoding: "utf8" }).trim()).toBe(h1.namespace);

    const stop = await ssh(lab.state, h1.name, "systemctl stop keepalived; systemctl is-active keepalived");
    expect(stop.stdout.trim()).toBe("inactive");
    expect(isAlive(ref.pid, ref.start)).toBe(false);
    expect(await waitFor(() => hasVip(h2.namespace, vip), 10_000)).toBe(true);
    expect(hasVip(h1.namespace, vip)).toBe(false);
  });

  it("lab down kills keepalived by its recorded PID", async () => {
    const h2 = lab.state.hosts[1]!;
    const ref = JSON.parse(readFileSync(path.join(h2.dir, "procs", "keepalived.json"), "utf8")) as ProcRef;
    expect(isAlive(ref.pid, ref.start)).toBe(true);
    await lab.down();
    downed = true;
    expect(isAlive(ref.pid, ref.start)).toBe(false);
  });
});
