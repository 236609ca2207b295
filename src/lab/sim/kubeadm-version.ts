// `kubeadm version`, on its own: the gather-facts script of every run asks it, and kubeadm.ts brings yaml,
// the API client and the control-plane simulation (≈ 40 ms of imports a resident simulator would pay on its
// first command; issue 12). command.ts sends `kubeadm version` here without loading kubeadm.ts.
import { k8sVersion } from "./system.js";
import { flag, parseArgs, type Sim } from "./util.js";

/** kubeadm's argv without its klog verbosity flags (-v, --v=N), which any subcommand takes. */
export const withoutVerbosity = (argv: string[]): string[] => argv.filter((a) => !/^--v=\d+$/.test(a) && !/^-v\d*$/.test(a));

/** `kubeadm version [-o short|json]`: upstream's three output forms. */
export function kubeadmVersion(sim: Sim, rest: string[]): number {
  const v = k8sVersion("kubeadm");
  const o = flag(parseArgs(rest).flags, "o", "output");
  if (o === "short") sim.out(`${v}\n`);
  else if (o === "json") sim.out(`${JSON.stringify({ clientVersion: { major: "1", minor: v.split(".")[1], gitVersion: v, platform: "linux/amd64" } }, null, 2)}\n`);
  else sim.out(`kubeadm version: &version.Info{Major:"1", Minor:"${v.split(".")[1]}", GitVersion:"${v}", GoVersion:"go1.24.4", Compiler:"gc", Platform:"linux/amd64"}\n`);
  return 0;
}
