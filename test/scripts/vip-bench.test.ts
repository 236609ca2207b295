// The parsing and formatting helpers of the VIP failover bench (src/lab/vip-bench.ts); the bench itself
// needs a lab and runs only by hand: npm run bench -- --vip.
import { describe, expect, it } from "vitest";
import { VIP_CONFIGS, formatTable, holdsVip, parseMonitorLine, seconds, stats } from "../../src/lab/vip-bench.js";
import { controlPlaneKeepalivedConfig } from "../../src/scripts/keepalived.js";

describe("vip bench helpers", () => {
  it("parses ip -o monitor address lines: added, deleted, tagged, IPv6; ignores the rest", () => {
    expect(parseMonitorLine("3: eth0    inet 198.18.7.2/32 scope global eth0\\       valid_lft forever preferred_lft forever")).toEqual({
      deleted: false,
      dev: "eth0",
      address: "198.18.7.2",
      prefix: 32,
    });
    expect(parseMonitorLine("Deleted 3: eth0    inet 198.18.7.2/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever")).toEqual({
      deleted: true,
      dev: "eth0",
      address: "198.18.7.2",
      prefix: 24,
    });
    expect(parseMonitorLine("[ADDR]3: eth0    inet 198.18.7.2/32 scope global eth0")?.address).toBe("198.18.7.2");
    expect(parseMonitorLine("2: eth0@if41    inet6 fe80::1/64 scope link \\       valid_lft forever preferred_lft forever")).toMatchObject({ dev: "eth0", address: "fe80::1" });
    expect(parseMonitorLine("")).toBeUndefined();
    expect(parseMonitorLine("3: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP")).toBeUndefined();
  });

  it("finds the VIP in ip -br addr output, not a longer address that starts like it", () => {
    const out = "lo               UNKNOWN        127.0.0.1/8 ::1/128\neth0@if12        UP             198.18.7.11/24 198.18.7.2/32 fe80::1/64\n";
    expect(holdsVip(out, "198.18.7.2")).toBe(true);
    expect(holdsVip(out, "198.18.7.1")).toBe(false);
    expect(holdsVip("eth0@if12        UP             198.18.7.21/24\n", "198.18.7.2")).toBe(false);
    expect(holdsVip("eth0 DOWN\n", "198.18.7.2")).toBe(false);
  });

  it("stats: min, median (mean of the middle two for an even count), max; none for no samples", () => {
    expect(stats([]) ).toBeUndefined();
    expect(stats([300, 100, 200])).toEqual({ n: 3, min: 100, median: 200, max: 300 });
    expect(stats([4, 1, 3, 2])).toEqual({ n: 4, min: 1, median: 2.5, max: 4 });
    expect(seconds(65.4)).toBe("0.065 s");
  });

  it("formats a padded table", () => {
    expect(formatTable(["a", "fault"], [["long value", "x"], ["b", "host death"]])).toBe(
      "a           fault\n----------  ----------\nlong value  x\nb           host death\n",
    );
  });

  it("every bench configuration renders (the checks the bench runs on)", () => {
    for (const c of VIP_CONFIGS) {
      const conf = controlPlaneKeepalivedConfig({
        vip: "198.18.7.2",
        interface: "eth0",
        routerId: 77,
        priority: 150,
        peers: ["198.18.7.12"],
        self: "198.18.7.11",
        healthCheck: "/bin/true",
        ...c.opts,
      });
      expect(conf, c.label).toContain("vrrp_instance kube_apiserver");
    }
  });
});
