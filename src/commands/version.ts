// `kubesmith version`: what this kubesmith installs by default and what it runs on (as `kubectl version`,
// `helm version`, `k0sctl version` answer). Cheap: no inventory, no network.
import type { Command } from "commander";
import { formatOutput, outputOption, type OutputFormat } from "../ui/output.js";
import type { CliIo } from "../cli/main.js";
import { packageVersion } from "../util/pkg.js";
import { CALICO, CONTAINERD, KUBERNETES } from "../versions.js";

export interface VersionInfo {
  kubesmith: string;
  kubernetes: { default: string; supported: string[] };
  calico: string;
  containerd: string;
  node: string;
  platform: string;
}

export function versionInfo(): VersionInfo {
  return {
    kubesmith: packageVersion(),
    kubernetes: { default: KUBERNETES.default, supported: [...KUBERNETES.supported] },
    calico: CALICO.version,
    containerd: `${CONTAINERD.package} ${CONTAINERD.minMajor}.x`,
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
  };
}

export function registerVersionCommand(program: Command, io: CliIo): void {
  program
    .command("version")
    .description("show the kubesmith version, the Kubernetes, Calico and containerd versions it installs, and the Node.js it runs on")
    .addOption(outputOption())
    .action(async (opts: { output: OutputFormat }) => {
      const v = versionInfo();
      io.stdout(await formatOutput(opts.output, v, () =>
        [
          `kubesmith   ${v.kubesmith}`,
          `kubernetes  ${v.kubernetes.default} (default; supported: ${v.kubernetes.supported.join(", ")})`,
          `calico      ${v.calico}`,
          `containerd  ${v.containerd}`,
          `node        ${v.node} (${v.platform})`,
        ].join("\n") + "\n",
      ));
    });
}
