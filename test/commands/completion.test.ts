// Completion scripts generated from the commander tree; the bash one sourced in a real bash and asked.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { commandTree } from "../../src/commands/completion.js";
import { run } from "../helpers/cli.js";
import { packageRoot } from "../../src/util/pkg.js";
import { cli, program } from "./helpers.js";

async function script(shell: string): Promise<string> {
  const r = await cli(["completion", shell]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/** COMPREPLY for the words typed so far (the last one is being completed). */
async function complete(file: string, words: string[], cwd?: string): Promise<string[]> {
  const arr = words.map((w) => `'${w}'`).join(" ");
  const r = await run("bash", ["-c", `source '${file}'; COMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; _kubesmith; printf '%s\\n' "\${COMPREPLY[@]}"`], cwd ? { cwd } : {});
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.split("\n").filter(Boolean).sort();
}

describe("kubesmith completion", () => {
  it("bash: registers with complete and completes commands, subcommands, options and choices", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ks-compl-"));
    const file = join(dir, "kubesmith.bash");
    writeFileSync(file, await script("bash"));
    const p = await run("bash", ["-c", `source '${file}' && complete -p kubesmith`]);
    expect(p.stdout.trim()).toBe("complete -F _kubesmith kubesmith");
    expect(await complete(file, ["kubesmith", "ch"])).toEqual(["check"]);
    // every top-level command of the real program is offered for an empty word
    const top = program({ stdout: () => {}, stderr: () => {} })
      .commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden)
      .map((c) => c.name())
      .sort();
    expect(await complete(file, ["kubesmith", ""])).toEqual(top);
    expect(await complete(file, ["kubesmith", "lab", "u"])).toEqual(["up"]);
    expect(await complete(file, ["kubesmith", "completion", "z"])).toEqual(["zsh"]);
    expect(await complete(file, ["kubesmith", "up", "--output", ""])).toEqual(["json", "plain"]);
    expect(await complete(file, ["kubesmith", "up", "--dry"])).toEqual(["--dry-run"]);
    // option values are not taken for commands; after -i a file name is completed
    writeFileSync(join(dir, "inv-a.yaml"), "");
    expect(await complete(file, ["kubesmith", "status", "-i", "inv"], dir)).toEqual(["inv-a.yaml"]);
    expect(await complete(file, ["kubesmith", "status", "-i", "x.yaml", "--out"], dir)).toEqual(["--output"]);
  });

  it("zsh and fish scripts cover every command path and option", async () => {
    const tree = commandTree(program({ stdout: () => {}, stderr: () => {} }));
    const zsh = await script("zsh");
    const fish = await script("fish");
    expect(zsh).toMatch(/^#compdef kubesmith/);
    expect(zsh).toContain("compdef _kubesmith kubesmith");
    for (const c of tree) {
      expect(zsh).toContain(`"${c.path}") subs=(`);
      if (c.path !== "kubesmith") expect(fish).toContain(`'${c.path}'`);
      for (const o of c.options) for (const f of o.flags) expect(zsh).toContain(`'${f}:`);
    }
    expect(fish).toMatch(/complete -c kubesmith -n 'test \(__kubesmith_path\) = \\'kubesmith up\\'' -s o -l output -r -a 'plain json'/);
    // zsh must not clobber $path (tied to $PATH)
    expect(zsh).not.toMatch(/local path\b/);
  });

  it("bash: host names (logs --host, hostkeys forget, --limit) from the inventory typed with -i, add-on names from the catalogue", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ks-compl-dyn-"));
    const file = join(dir, "kubesmith.bash");
    writeFileSync(file, await script("bash"));
    // `kubesmith` on the PATH, as an installed one would be
    const bin = join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "kubesmith"), `#!/bin/sh\nexec '${process.execPath}' '${join(packageRoot(), "dist", "cli.js")}' "$@"\n`, { mode: 0o755 });
    writeFileSync(
      join(dir, "inv.yaml"),
      'apiVersion: kubesmith.io/v1alpha1\nkind: Cluster\ncluster:\n  name: c\n  kubernetesVersion: "1.36"\nhosts:\n  - name: cp1\n    address: 198.18.200.10\n    roles: [control-plane]\n  - name: web1\n    address: 198.18.200.11\n    roles: [worker]\n',
    );
    const withBin = async (words: string[]) => {
      const arr = words.map((w) => `'${w}'`).join(" ");
      const r = await run("bash", ["-c", `PATH='${bin}':$PATH; source '${file}'; COMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; _kubesmith; printf '%s\\n' "\${COMPREPLY[@]}"`], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.split("\n").filter(Boolean).sort();
    };
    expect(await withBin(["kubesmith", "logs", "-i", "inv.yaml", "--host", ""])).toEqual(["cp1", "web1"]);
    expect(await withBin(["kubesmith", "hostkeys", "forget", "-i", "inv.yaml", "w"])).toEqual(["web1"]);
    expect(await withBin(["kubesmith", "up", "-i", "inv.yaml", "--limit", "w"])).toEqual(["web1"]);
    expect(await withBin(["kubesmith", "check", "-i", "inv.yaml", "--limit", ""])).toEqual(["cp1", "web1"]);
    expect(await withBin(["kubesmith", "addons", "render", "gr"])).toEqual(["grafana"]);
    // no inventory to read: nothing offered, nothing printed into the command line
    expect(await withBin(["kubesmith", "logs", "-i", "nope.yaml", "--host", ""])).toEqual([]);
  });

  it("an unknown shell is a usage error", async () => {
    const r = await cli(["completion", "tcsh"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/tcsh.*bash, zsh, fish/);
  });
});
