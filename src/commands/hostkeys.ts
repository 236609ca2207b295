// `kubesmith hostkeys forget`: remove the recorded SSH host keys of an inventory's hosts (all of them, or the
// ones named), as `ssh-keygen -R` does, after the machines were rebuilt (`vagrant destroy && vagrant up`).
// A changed key is always refused, so this is the one way forward that does not weaken the check.
import type { Command } from "commander";
import type { CliIo } from "../cli/main.js";
import { UsageError } from "../errors.js";
import { resolveInventoryPath } from "./inventory.js";

export function registerHostkeysCommands(program: Command, io: CliIo): void {
  const group = program.command("hostkeys").description("manage the SSH host keys kubesmith has recorded for the inventory's hosts");
  group
    .command("forget")
    .description("forget the recorded host keys of the inventory's hosts (all, or the named ones), as ssh-keygen -R does; the next connection records them again under accept-new")
    .argument("[hosts...]", "host names from the inventory (default: every host, and the bastions)")
    .option("-i, --inventory <file>", "inventory file (default $KUBESMITH_INVENTORY or ./inventory.yaml)")
    .action(async (names: string[], opts: { inventory?: string }) => {
      const { dirname } = await import("node:path");
      const { loadInventory } = await import("../inventory/load.js");
      const { targetsFromInventory } = await import("../ssh/targets.js");
      const { forgetKnownHosts } = await import("../ssh/knownhosts.js");
      const loaded = await loadInventory(resolveInventoryPath(opts.inventory));
      const targets = targetsFromInventory(loaded.inventory, { baseDir: dirname(loaded.file) });
      const unknown = names.filter((n) => !targets.some((t) => t.name === n));
      if (unknown.length) {
        throw new UsageError(`no host named ${unknown.map((n) => `'${n}'`).join(", ")} in ${loaded.file}`, { hint: `its hosts are ${targets.map((t) => t.name).join(", ")}` });
      }
      const chosen = names.length ? targets.filter((t) => names.includes(t.name)) : targets;
      // Each host's known_hosts file (they may differ per host), with the bastions it goes through.
      const byFile = new Map<string, { host: string; port: number }[]>();
      for (const t of chosen) {
        const hops = [t, ...(names.length ? [] : (t.bastion ? [t.bastion] : []))];
        for (const h of hops) byFile.set(h.knownHostsFile, [...(byFile.get(h.knownHostsFile) ?? []), { host: h.address, port: h.port }]);
      }
      let total = 0;
      for (const [file, hosts] of byFile) {
        const n = await forgetKnownHosts(file, hosts);
        total += n;
        if (n) io.stdout(`removed ${n} key(s) from ${file} (the previous file is ${file}.old)\n`);
      }
      io.stdout(total ? `forgot the host keys of ${chosen.map((t) => t.name).join(", ")}\n` : `no recorded host keys for ${chosen.map((t) => t.name).join(", ")}: nothing to forget\n`);
    });
}
