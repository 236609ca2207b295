// POSIX shell quoting: the one helper every interpolated value goes through.
// Output is plain POSIX sh (dash, busybox, bash): single quotes, with ' written as '\''.
// Never bash-only $'…'.

/** Quote one word for POSIX sh. The shell sees exactly `s` as one argument. */
export function quote(s: string): string {
  if (s.includes("\0")) throw new TypeError("a shell word cannot contain a NUL byte");
  // Always quoted, even "safe" words: a bare FOO=bar in command position would become an assignment.
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const RAW = Symbol("kubesmith.raw");

/** A trusted shell fragment that sh`` inserts as it is, without quoting. */
export interface RawShell {
  readonly [RAW]: true;
  readonly text: string;
  toString(): string;
}

/** Mark a trusted fragment (an operator, a redirection, an already quoted script) for sh``. */
export function raw(text: string): RawShell {
  return { [RAW]: true, text, toString: () => text };
}

export function isRaw(v: unknown): v is RawShell {
  return typeof v === "object" && v !== null && (v as { [RAW]?: unknown })[RAW] === true;
}

export type ShellValue = string | number | bigint | boolean | RawShell | readonly ShellValue[];

function render(v: ShellValue): string {
  if (isRaw(v)) return v.text;
  if (Array.isArray(v)) return (v as readonly ShellValue[]).map(render).join(" ");
  return quote(String(v));
}

/**
 * Tagged template for shell commands: every interpolation is quoted, arrays become space-separated
 * quoted words, raw() fragments are inserted verbatim.
 *
 *   sh`rm -f ${path}`             -> rm -f '/tmp/a b'
 *   sh`apt-get install ${pkgs}`   -> apt-get install 'curl' 'x y'
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): string {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) {
    out += render(values[i] as ShellValue) + (strings[i + 1] ?? "");
  }
  return out;
}
