// Real files published by other projects, kept beside the repo in ../shared/upstream/ (never copied into
// it; see that folder's README). A test that needs one asks here: where it is, or why the test is skipped.
// Under CI a missing file is an error, so no CI run passes only because the reference data was absent.
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** ../shared/upstream, beside the repository's root. */
export const UPSTREAM_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "shared", "upstream");

/** The absolute path of an upstream file (relative to ../shared/upstream), present or not. */
export function upstreamFile(rel: string): string {
  return path.join(UPSTREAM_DIR, rel);
}

/**
 * Why tests needing these files must be skipped, or undefined when all are there. Throws under CI (CI set
 * and not "false"/"0"): the files are part of what CI checks against.
 */
export function upstreamSkipReason(...rels: string[]): string | undefined {
  const missing = rels.filter((r) => !existsSync(upstreamFile(r)));
  if (!missing.length) return undefined;
  const reason = `upstream reference file(s) missing: ${missing.map((r) => upstreamFile(r)).join(", ")}`;
  const ci = process.env["CI"];
  if (ci && ci !== "false" && ci !== "0") throw new Error(`CI is set and ${reason} (../shared/upstream/ must sit beside the repository)`);
  return reason;
}
