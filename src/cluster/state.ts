// Where a cluster's state lives: run journals and logs, the secrets kubesmith generated, the cluster lock's
// local copy. The state belongs to the inventory that describes the cluster, not to the directory a command
// happens to be run from: `plan -i /abs/inv.yaml` from another directory must find the same secrets (a
// state that is not found would mean new passwords planned over the running cluster's).
import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { quote } from "../ssh/quote.js";

/** A word as a person would type it: quoted only when the shell needs it. */
export const word = (s: string): string => (/^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : quote(s));

export const STATE_DIR_ENV = "KUBESMITH_STATE_DIR";

export const STATE_DIR_HELP = `run journals, logs, cluster secrets and the kubeconfig (default $${STATE_DIR_ENV}, else .kubesmith beside the inventory file)`;

/** --state-dir, else $KUBESMITH_STATE_DIR, else `.kubesmith` in the inventory file's directory. Absolute. */
export function stateDirFor(flag: string | undefined, inventoryFile: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  const fromEnv = env[STATE_DIR_ENV];
  if (fromEnv) return resolve(fromEnv);
  return join(dirname(resolve(inventoryFile)), ".kubesmith");
}

/**
 * The admin kubeconfig `up` writes for the user (0600): with the cluster's other state, so it is found
 * from any directory, as the secrets and logs are.
 */
export function kubeconfigFile(stateDir: string, cluster: string): string {
  return join(stateDir, cluster, "kubeconfig");
}

/**
 * Where runs before the kubeconfig moved into the state wrote it: kubeconfig/<cluster>.yaml in the working
 * directory. When such a file is there, the line that says so (it is left alone); else undefined.
 */
export function oldKubeconfigNote(cluster: string, now: string, cwd: string = process.cwd()): string | undefined {
  const old = join(cwd, "kubeconfig", `${cluster}.yaml`);
  if (!existsSync(old) || resolve(old) === resolve(now)) return undefined;
  return `note: ${old} was written by an older kubesmith; the kubeconfig now lives in ${now} (the old file is left as it is: remove it when nothing uses it)`;
}

/**
 * The `kubesmith logs` command that shows a run's (and a host's) whole output. runDir is
 * <stateDir>/<cluster>/runs/<id>; --state-dir is added only when it is not what -i alone would find.
 */
export function logsCommand(inventory: string, runDir: string, host?: string, env: NodeJS.ProcessEnv = process.env): string {
  const stateDir = resolve(runDir, "..", "..", "..");
  const parts = ["kubesmith", "logs", "-i", word(inventory)];
  if (stateDirFor(undefined, inventory, env) !== stateDir) parts.push("--state-dir", word(stateDir));
  parts.push("--run", basename(runDir));
  if (host) parts.push("--host", word(host));
  return parts.join(" ");
}
