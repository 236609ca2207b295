// The run's one list of secrets. Everything that is a secret is added here once, where it becomes known:
// the inventory's ${VAR} values in secret fields (sudo and login passwords, key passphrases), the SSH
// targets' credentials, add-on values kubesmith generates, the join token and certificate key, and any
// value a command or Step declares secret (ExecOptions.secrets adds to this list, it does not keep its
// own). Every output reads it: the per-host logs (ssh/log.ts), CommandError text, the events (journal,
// plain/JSON/tty output, hence the report) and the final error line (cli/main.ts).
//
// A kubesmith process runs one command, so the run's list is the process's: `runSecrets`. A list only
// grows; tests that want their own pass a fresh SecretList where the code takes one.

export const REDACTED = "***";

/** What is replaced for a list of secrets: each one, and its quote()d form; longest first. */
function redactionForms(secrets: Iterable<string>): string[] {
  // A secret interpolated with quote() appears with each ' written as '\'' : redact that form too.
  const forms = [...secrets].filter((s) => s.length > 0).flatMap((s) => (s.includes("'") ? [s, s.replace(/'/g, "'\\''")] : [s]));
  return [...new Set(forms)].sort((a, b) => b.length - a.length);
}

function replaceAll(text: string, forms: readonly string[]): string {
  let out = text;
  for (const s of forms) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

/** Replace every occurrence of every (non-empty) secret by ***. Longest secrets first. */
export function redact(text: string, secrets: Iterable<string>): string {
  return replaceAll(text, redactionForms(secrets));
}

export class SecretList {
  private readonly values = new Set<string>();
  private forms?: string[];

  /** Adds each non-empty value (undefined and "" are ignored). Returns the list. */
  add(...values: readonly (string | undefined | null)[]): this {
    for (const v of values) {
      if (typeof v !== "string" || v.length === 0 || this.values.has(v)) continue;
      this.values.add(v);
      this.forms = undefined;
    }
    return this;
  }

  has(value: string): boolean {
    return this.values.has(value);
  }

  get size(): number {
    return this.values.size;
  }

  /** `text` with every secret of the list replaced by ***. */
  redact(text: string): string {
    if (!this.values.size) return text;
    this.forms ??= redactionForms(this.values);
    return replaceAll(text, this.forms);
  }

  /** A copy of `value` with every string in it (at any depth) redacted; the value itself when nothing is secret. */
  redactDeep<T>(value: T): T {
    if (!this.values.size) return value;
    const walk = (v: unknown): unknown => {
      if (typeof v === "string") return this.redact(v);
      if (Array.isArray(v)) return v.map(walk);
      if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
      return v;
    };
    return walk(value) as T;
  }
}

/** The secrets of this run (this process). */
export const runSecrets = new SecretList();
