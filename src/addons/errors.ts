// The add-on engine's typed failure: a release that did not apply, roll out, validate or roll back.
// Exit code: the API one (11) — most of these are "the cluster did not reach the wanted state".
import { ExitCode, KubesmithError } from "../errors.js";

export class AddonError extends KubesmithError {
  readonly exitCode = ExitCode.Api;
  /** Release name (cluster and host bundles). */
  readonly release: string;
  /** The workload (Kind/namespace/name) that did not roll out, when that is what failed. */
  readonly workload?: string;
  /** Revision rolled back to, when a rollback happened. */
  readonly rolledBackTo?: number;
  constructor(release: string, message: string, opts?: { hint?: string; cause?: unknown; workload?: string; rolledBackTo?: number }) {
    super(`release ${release}: ${message}`, opts);
    this.release = release;
    if (opts?.workload) this.workload = opts.workload;
    if (opts?.rolledBackTo !== undefined) this.rolledBackTo = opts.rolledBackTo;
  }
}
