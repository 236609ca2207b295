// Showing user input in messages without letting it take over the terminal or the screen: control
// characters (ESC, NUL, CR, LF …), C1 controls, bidi overrides (U+202E …) and line separators are
// escaped (\x1b, \u202e), and long values are cut to 80 characters with their full length named.
import type { InventoryIssue } from "../errors.js";

/**
 * Characters no inventory string may hold, and that messages must never echo raw: C0 controls (also tab,
 * CR and LF), DEL, C1 controls, the Unicode line/paragraph separators, the byte-order mark and the
 * bidirectional formatting characters (U+061C, U+200E/F, U+202A–U+202E, U+2066–U+2069: "Trojan Source",
 * CVE-2021-42574), which make text display in another order than it is read.
 */
export const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/;
const UNSAFE_ALL = new RegExp(UNSAFE_CHARS.source, "g");

/** Values longer than this are cut in messages. */
export const SHOW_MAX = 80;

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  switch (c) {
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
  }
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** Text with every unsafe character escaped (\x1b, \n, \u202e). */
export function escapeUnsafe(s: string): string {
  return s.replace(UNSAFE_ALL, escapeChar);
}

/** The first unsafe character of s as an escape, and its 0-based index; undefined when there is none. */
export function firstUnsafe(s: string): { escaped: string; index: number } | undefined {
  const m = UNSAFE_CHARS.exec(s);
  return m ? { escaped: escapeChar(m[0]), index: m.index } : undefined;
}

/** A string for a message: quoted, unsafe characters escaped, cut to `max` characters with its length. */
export function showString(s: string, max = SHOW_MAX): string {
  const cut = s.length > max;
  const quoted = new RegExp(`[\\\\"]|${UNSAFE_CHARS.source}`, "g");
  const body = (cut ? s.slice(0, max) : s).replace(quoted, (c) => (c === "\\" ? "\\\\" : c === '"' ? '\\"' : escapeChar(c)));
  return cut ? `"${body}…" (${s.length} characters)` : `"${body}"`;
}

/** Any value for a message: strings as showString, the rest as (cut) JSON; undefined is "nothing". */
export function showValue(v: unknown, max = SHOW_MAX): string {
  if (typeof v === "string") return showString(v, max);
  if (v === undefined) return "nothing";
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  s = escapeUnsafe(s);
  return s.length > max ? `${s.slice(0, max)}… (${s.length} characters)` : s;
}

/** The most a message line may be; a longer one is cut (a safety net behind showValue). */
const LINE_MAX = 400;

/** Escapes unsafe characters and cuts overlong text (the last line of defence for any message text). */
export function safeText(s: string, max = LINE_MAX): string {
  const escaped = escapeUnsafe(s);
  return escaped.length > max ? `${escaped.slice(0, max)}… (cut, ${escaped.length} characters)` : escaped;
}

/** An issue fit to print: message, hint and path escaped and bounded. */
export function safeIssue(i: InventoryIssue): InventoryIssue {
  const out: InventoryIssue = { ...i, path: safeText(i.path, 200), message: safeText(i.message) };
  if (i.hint !== undefined) out.hint = safeText(i.hint);
  return out;
}

/** A key or name for a message, unquoted: unsafe characters escaped, cut to `max` characters (with an ellipsis). */
export function showName(s: string, max = SHOW_MAX): string {
  return s.length > max ? `${escapeUnsafe(s.slice(0, max))}…` : escapeUnsafe(s);
}
