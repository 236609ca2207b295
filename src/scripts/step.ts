// A remote change as data: a read-only probe that says "already so", and an idempotent apply that makes
// it so. Plan/dry-run prints `what` for every step whose probe fails; a real run applies only those.
// Everything under src/scripts/ is pure: functions of their arguments, no I/O, golden-tested.
import { createHash } from "node:crypto";
import { quote, sh } from "../ssh/quote.js";
import { UsageError } from "../errors.js";
import type { PackageManager } from "./packages.js";

export interface Step {
  /** Stable id, e.g. "kernel-modules"; used in journals, logs and fault injection. */
  id: string;
  /** One human line for plan/progress, e.g. "load kernel modules overlay, br_netfilter". */
  what: string;
  /**
   * Read-only POSIX sh. Exit 0 = already in the desired state, so apply is skipped.
   * A passing probe means apply would change nothing.
   */
  probe: string;
  /** POSIX sh (dash) that makes it so; safe to re-run; starts with `set -eu`. */
  apply: string;
  /** Run probe and apply as root (through sudo when the login user is not root). Default true. */
  sudo?: boolean;
  /**
   * Data the caller must feed on stdin to BOTH probe and apply (ExecOptions.stdin). Used for secret
   * file contents so that they never appear in a command line (visible in `ps`) or in the logged script.
   */
  stdin?: string;
  /** Values to redact from logs (ExecOptions.secrets); set whenever stdin carries a secret. */
  secrets?: string[];
  /**
   * How the apply uses the host's package index (see packages.ts): "install" reads it, so the step runner
   * refreshes it first when this run has not on this host yet, or a repository changed since; "repository"
   * changes it, so the next install refreshes. Package-manager failures of such steps that are transient
   * are retried. Absent: the apply does not touch packages.
   */
  packageIndex?: { manager: PackageManager; use: "install" | "repository" };
}

/** Join script lines into one script. */
export function script(...lines: (string | false | undefined)[]): string {
  return lines.filter((l): l is string => typeof l === "string").join("\n");
}

/**
 * A probe made of checks that must all pass. Each check becomes `CHECK || exit 1`; a check of several
 * lines, or one that calls exit itself, runs in a subshell so that its own `exit 0` cannot end the probe
 * early. The probe exits 0 only when every check passed.
 */
export function probeAll(...checks: (string | false | undefined)[]): string {
  // No indentation inside the subshell: a check may hold a quoted multi-line string.
  return checks
    .filter((c): c is string => typeof c === "string")
    .map((c) => (c.includes("\n") || /\bexit\b/.test(c) ? `(\n${c}\n) || exit 1` : `${c} || exit 1`))
    .join("\n");
}

/** The first lines of every apply script. */
export const APPLY_HEADER = "set -eu";

/** Octal mode string as `stat -c %a` prints it: 0o600 -> "600". */
export function modeString(mode: number): string {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new UsageError(`invalid file mode ${mode}`);
  return mode.toString(8);
}

/** Text with trailing newlines removed: what "$(cat FILE)" yields in sh. */
function shellText(content: string): string {
  return content.replace(/\n+$/, "");
}

export function assertAbsolutePath(p: string, what: string): void {
  if (!p.startsWith("/") || p.includes("\0") || p.includes("\n")) {
    throw new UsageError(`${what} must be an absolute path without newlines, got ${JSON.stringify(p)}`);
  }
}

export interface ManagedFile {
  path: string;
  content: string;
  /** Default 0o644. */
  mode?: number;
  /**
   * Secret content: carried on stdin (Step.stdin) instead of inside the script, compared on stdin in
   * the probe, written with umask 077 so it is never readable by others, not even for a moment.
   */
  secret?: boolean;
}

// A managed file's mode and content are read as `stat --printf '%a ' FILE && sha256sum FILE` ("644 HASH  FILE",
// one line, so that probeAll needs no subshell for it),
// written `${VAR-$(…)}` so that a phase's probe script, which checks a handful of files, reads them all
// with one stat and one sha256sum (fileTable below, used by phases/steps.ts probeScript); every other
// script runs the command for its file. The content is compared by its SHA-256, computed here from what
// the apply writes, byte for byte. Issue 12: a file check had cost a stat and a cat.

/** The probe script's variable for one file: __kf_ and 12 hex digits of the path's SHA-256 (short: every probe and batch script carries it). */
function fileVar(p: string): string {
  return `__kf_${createHash("sha256").update(p).digest("hex").slice(0, 12)}`;
}

/** Probe fragment: the file exists with this mode and (non-secret) this content. */
export function fileMatchesProbe(f: ManagedFile): string {
  assertAbsolutePath(f.path, "file path");
  const mode = modeString(f.mode ?? 0o644);
  if (f.secret) return `${sh`[ -f ${f.path} ] && [ "$(stat -c %a ${f.path})" = ${mode} ]`} && [ "$(cat ${quote(f.path)})" = "$want" ]`;
  const hash = createHash("sha256").update(f.content).digest("hex");
  // sha256sum escapes a name holding a backslash (and starts the line with one): such a file is read on
  // stdin ("HASH  -"), on its own, never from the table
  if (f.path.includes("\\")) return `[ -f ${quote(f.path)} ] && [ "$(stat --printf '%a ' ${quote(f.path)} && sha256sum < ${quote(f.path)})" = ${quote(`${mode} ${hash}  -`)} ]`;
  return `[ -f ${quote(f.path)} ] && [ "\${${fileVar(f.path)}-$(stat --printf '%a ' ${quote(f.path)} && sha256sum ${quote(f.path)})}" = ${quote(`${mode} ${hash}  ${f.path}`)} ]`;
}

const FILE_CHECK_RE = /\$\{__kf_[0-9a-f]{12}-\$\(stat --printf '%a ' ('(?:[^']|'\\'')*') && sha256sum \1\)\}/g;

/**
 * For a read-only script that runs the given probes: one stat and one sha256sum for every managed file
 * they check (see fileMatchesProbe), their lines read into the files' variables with shell builtins;
 * undefined when they check none. A missing file leaves its variable empty (its probe fails on `-f` first).
 */
export function fileTable(probes: readonly string[]): string | undefined {
  const files = new Map<string, string>(); // quoted path -> path
  for (const p of probes) for (const m of p.matchAll(FILE_CHECK_RE)) files.set(m[1]!, m[1]!.slice(1, -1).replace(/'\\''/g, "'"));
  if (files.size === 0) return undefined;
  const quoted = [...files.keys()].join(" ");
  return [
    `__ks_t=$( { stat -c '%a %n' ${quoted}; sha256sum ${quoted}; } 2>/dev/null)`,
    [...files.values()].map((p) => `${fileVar(p)}=`).join(" "),
    // stat's lines come first ("644 FILE"), then sha256sum's ("HASH  FILE")
    "while read -r __a __b; do",
    "  case $__b in",
    ...[...files].map(([q, p]) => {
      const v = fileVar(p);
      return `    ${q}) if [ -z "$${v}" ]; then ${v}=$__a; else ${v}="$${v} $__a  $__b"; fi ;;`;
    }),
    "  esac",
    "done <<__KS_FILES__",
    "$__ks_t",
    "__KS_FILES__",
  ].join("\n");
}

/**
 * Apply fragment: write the file atomically (temp name in the same directory, then rename), with its
 * mode set before the rename. Secret content is read from stdin (already captured in "$want" by the
 * caller's script, see secretPreamble).
 */
export function writeFileApply(f: ManagedFile): string {
  assertAbsolutePath(f.path, "file path");
  const dir = f.path.replace(/\/[^/]*$/, "") || "/";
  const tmp = `${f.path}.kubesmith-tmp`;
  const mode = modeString(f.mode ?? 0o644);
  return script(
    sh`mkdir -p ${dir}`,
    f.secret
      ? sh`(umask 077 && printf '%s\\n' "$want" > ${tmp})`
      : sh`printf '%s' ${f.content} > ${tmp}`,
    sh`chmod ${mode} ${tmp}`,
    sh`mv -f ${tmp} ${f.path}`,
  );
}

/** For scripts of secret-file steps: read the content from stdin once, before anything else. */
export const SECRET_PREAMBLE = 'want=$(cat)';

/**
 * A step that keeps one file at the given content and mode; `after` runs only when the file changed
 * (e.g. restart a service).
 */
export function fileStep(opts: { id: string; what: string; file: ManagedFile; after?: string[] }): Step {
  const f = opts.file;
  const step: Step = {
    id: opts.id,
    what: opts.what,
    probe: script(f.secret ? SECRET_PREAMBLE : undefined, probeAll(fileMatchesProbe(f))),
    apply: script(APPLY_HEADER, f.secret ? SECRET_PREAMBLE : undefined, writeFileApply(f), ...(opts.after ?? [])),
  };
  if (f.secret) {
    step.stdin = f.content;
    step.secrets = [f.content];
  }
  return step;
}

/** Render steps as text: what golden files hold and what `plan --verbose` can print. */
export function renderSteps(steps: readonly Step[]): string {
  return steps
    .map((s) =>
      [
        `### ${s.id}${s.sudo === false ? "" : " (sudo)"}${s.stdin !== undefined ? " (stdin: secret)" : ""}`,
        `# ${s.what}`,
        ...(s.packageIndex ? [`# package index (${s.packageIndex.manager}): ${s.packageIndex.use === "install" ? "read; refreshed first when stale" : "changed; the next install refreshes it"}`] : []),
        "--- probe",
        s.probe,
        "--- apply",
        s.apply,
        "",
      ].join("\n"),
    )
    .join("\n");
}
