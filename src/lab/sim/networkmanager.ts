// NetworkManager and Calico's interfaces, as a lab host's NetworkManager would treat them.
//
// Calico's "Configure NetworkManager" (docs.tigera.io/calico/latest/operations/troubleshoot/troubleshooting
// #configure-networkmanager): "NetworkManager manipulates the routing table for interfaces in the default
// network namespace where Calico veth pairs are anchored for connections to containers. This can interfere
// with the Calico agent's ability to route correctly." The fix it gives: a file in
// /etc/NetworkManager/conf.d with `[keyfile]` `unmanaged-devices=interface-name:cali*;interface-name:tunl*;
// interface-name:vxlan.calico;…`.
//
// Which devices NetworkManager leaves alone (NetworkManager.conf(5)): the `unmanaged-devices` key of the
// [keyfile] section; files are read as /etc/NetworkManager/NetworkManager.conf, then conf.d/*.conf in
// alphabetical order, a later file's key replacing an earlier one's, `unmanaged-devices+=` appending to the
// list and `unmanaged-devices-=` removing from it; list items are separated by `;` (or `,`); an
// `interface-name:PATTERN` item matches device names by glob (`*`, `?`), `interface-name:=NAME` exactly
// (NetworkManager's "Device List Format"). Only this is modelled: no `except:`, `mac:` or `type:` specs.
// NetworkManager manages nothing while it is not running.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";

/** Device names standing for Calico's interfaces: a workload veth, the IP-in-IP tunnel, the VXLAN device. */
export const CALICO_DEVICES: readonly { pattern: string; sample: string }[] = [
  { pattern: "cali*", sample: "cali1a2b3c4d5e6" },
  { pattern: "tunl*", sample: "tunl0" },
  { pattern: "vxlan.calico", sample: "vxlan.calico" },
];

function globMatch(glob: string, name: string): boolean {
  const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
  return re.test(name);
}

/** The unmanaged-devices list after reading these files in order (each: its text). */
export function unmanagedDevices(files: readonly string[]): string[] {
  let list: string[] = [];
  for (const text of files) {
    let section = "";
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      if (!line || line.startsWith("#") || line.startsWith(";")) continue;
      const sec = /^\[(.+)\]$/.exec(line);
      if (sec) {
        section = sec[1]!.trim();
        continue;
      }
      if (section !== "keyfile") continue;
      const kv = /^unmanaged-devices\s*([+-]?)=\s*(.*)$/.exec(line);
      if (!kv) continue;
      const items = kv[2]!.split(/[;,]/).map((s) => s.trim()).filter(Boolean);
      if (kv[1] === "+") list = [...list, ...items];
      else if (kv[1] === "-") list = list.filter((i) => !items.includes(i));
      else list = items;
    }
  }
  return list;
}

/** Calico's device patterns (CALICO_DEVICES) that this unmanaged-devices list does not cover. */
export function calicoDevicesManaged(unmanaged: readonly string[]): string[] {
  const covers = (item: string, name: string) => {
    const m = /^interface-name:(=?)(.*)$/.exec(item);
    if (!m) return false;
    return m[1] === "=" ? m[2] === name : globMatch(m[2]!, name);
  };
  return CALICO_DEVICES.filter((d) => !unmanaged.some((u) => covers(u, d.sample))).map((d) => d.pattern);
}

/** On this host (its files at their normal paths): Calico's devices NetworkManager would manage; [] when none or NetworkManager is not running. */
export function hostCalicoDevicesManaged(networkManagerActive: boolean, etc = "/etc/NetworkManager"): string[] {
  if (!networkManagerActive || !existsSync(etc)) return [];
  const files: string[] = [];
  const main = path.join(etc, "NetworkManager.conf");
  if (existsSync(main)) files.push(readFileSync(main, "utf8"));
  const confd = path.join(etc, "conf.d");
  if (existsSync(confd)) {
    for (const f of readdirSync(confd).filter((n) => n.endsWith(".conf")).sort()) files.push(readFileSync(path.join(confd, f), "utf8"));
  }
  return calicoDevicesManaged(unmanagedDevices(files));
}
