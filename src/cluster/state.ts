// Where a cluster's state lives: run journals and logs, the secrets kubesmith generated, the cluster lock's
// local copy. The state belongs to the inventory that describes the cluster, not to the directory a command
// happens to be run from: `plan -i /abs/inv.yaml` from another directory must find the same secrets (a
// state that is not found would mean new passwords planned over the running cluster's).
import { dirname, join, resolve } from "node:path";

export const STATE_DIR_ENV = "KUBESMITH_STATE_DIR";

export const STATE_DIR_HELP = `run journals, logs and cluster secrets (default $${STATE_DIR_ENV}, else .kubesmith beside the inventory file)`;

/** --state-dir, else $KUBESMITH_STATE_DIR, else `.kubesmith` in the inventory file's directory. Absolute. */
export function stateDirFor(flag: string | undefined, inventoryFile: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  const fromEnv = env[STATE_DIR_ENV];
  if (fromEnv) return resolve(fromEnv);
  return join(dirname(resolve(inventoryFile)), ".kubesmith");
}
