// Names the inventory hands to other programs, checked by those programs' own rules so that a bad one is
// refused at its line instead of breaking (or being injected into) a config file or a command later:
// network interface names (Linux), Kubernetes label and taint keys and values (apimachinery).
import { z } from "zod";
import { showString } from "./show.js";

/**
 * Why a network interface name is not valid, or undefined. Linux's rules, from dev_valid_name() in
 * net/core/dev.c: not empty, shorter than IFNAMSIZ (16 bytes with the NUL, so at most 15), not "." or
 * "..", no '/', ':' or whitespace. kubesmith writes the name into keepalived.conf (whose parser splits on
 * blanks and reads quotes, braces, '#' and '!' as syntax), so it further takes only the characters real
 * names use: letters, digits and _ . @ - (src/scripts/keepalived.ts refuses the same).
 */
export function interfaceNameProblem(name: string): string | undefined {
  const shown = showString(name);
  if (name === "") return "must not be empty";
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes > 15) return `${shown} is ${bytes} bytes long; Linux interface names have at most 15 (IFNAMSIZ 16 with the NUL)`;
  if (name === "." || name === "..") return `${shown} is not a valid Linux interface name`;
  if (/[\s/:]/.test(name)) return `${shown} holds whitespace, '/' or ':', which a Linux interface name may not`;
  if (!/^[A-Za-z0-9_.@-]+$/.test(name)) return `${shown} must be letters, digits and _ . @ - only, like eth0, ens18 or bond0.100`;
  return undefined;
}

// The `pattern`s are for editors (inventories/schema.json); the checks and their messages are the functions.
export const interfaceName = z
  .string()
  .superRefine((s, ctx) => {
    const p = interfaceNameProblem(s);
    if (p) ctx.addIssue({ code: "custom", message: p });
  })
  .meta({ pattern: "^(?!\\.\\.?$)[A-Za-z0-9_.@-]{1,15}$" });

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** apimachinery validation.go: qualifiedNameFmt ([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?), at most 63. */
const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/**
 * Why `key` is not a Kubernetes qualified name (label keys, taint keys), or undefined. apimachinery's
 * IsQualifiedName: an optional prefix that is a DNS-1123 subdomain of at most 253 characters, then '/',
 * then a name of at most 63 characters of [A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9].
 */
export function qualifiedNameProblem(key: string): string | undefined {
  const shown = showString(key);
  const parts = key.split("/");
  if (parts.length > 2) return `${shown} has more than one '/'; a key is [prefix/]name`;
  const [prefix, name] = parts.length === 2 ? [parts[0]!, parts[1]!] : [undefined, parts[0]!];
  if (prefix !== undefined) {
    if (prefix === "") return `${shown} has an empty prefix before '/'`;
    if (prefix.length > 253) return `the prefix of ${shown} is ${prefix.length} characters; at most 253`;
    if (!prefix.split(".").every((l) => DNS1123_LABEL.test(l)))
      return `the prefix of ${shown} must be a DNS subdomain (lower-case letters, digits, '-' and '.') like example.com`;
  }
  if (name === "") return `${shown} has an empty name`;
  if (name.length > 63) return `the name part of ${shown} is ${name.length} characters; at most 63`;
  if (!QUALIFIED_NAME.test(name))
    return `${shown} must be letters, digits, '-', '_' and '.', starting and ending with a letter or digit (like example.com/tier)`;
  return undefined;
}

/** Why `v` is not a Kubernetes label value (also a taint value), or undefined: empty, or at most 63 of the qualified-name characters. */
export function labelValueProblem(v: string): string | undefined {
  if (v === "") return undefined;
  if (v.length > 63) return `${showString(v)} is ${v.length} characters; a label value has at most 63`;
  if (!QUALIFIED_NAME.test(v))
    return `${showString(v)} must be empty or letters, digits, '-', '_' and '.', starting and ending with a letter or digit`;
  return undefined;
}

function refined(check: (s: string) => string | undefined, meta: Record<string, unknown>) {
  return z
    .string()
    .superRefine((s, ctx) => {
      const p = check(s);
      if (p) ctx.addIssue({ code: "custom", message: p });
    })
    .meta(meta);
}

/** A label or taint key (Kubernetes qualified name). */
export const qualifiedName = refined(qualifiedNameProblem, {
  pattern: "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$",
});
/** A label or taint value. */
export const labelValue = refined(labelValueProblem, { maxLength: 63, pattern: "^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$" });
