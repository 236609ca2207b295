#!/usr/bin/env node
// npm run faults: the full fault suite (KUBESMITH_FAULTS=full) with vitest, one file at a time, then the
// table of every scenario's result. Extra arguments go to vitest. Lab names get KUBESMITH_TEST_LAB_PREFIX.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const results = join(mkdtempSync(join(tmpdir(), "kubesmith-faults-")), "results.jsonl");
const vitest = join(root, "node_modules", "vitest", "vitest.mjs");
const r = spawnSync(process.execPath, [vitest, "run", "test/faults", "--maxWorkers=1", ...process.argv.slice(2)], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, KUBESMITH_FAULTS: "full", KUBESMITH_FAULTS_RESULTS: results },
});
const rows = existsSync(results) ? readFileSync(results, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
const head = ["scenario", "exit code", "message", "lost nothing", "next up changes"];
const cells = rows.map((x) => [x.scenario, String(x.exitCode), x.message || "-", x.lostNothing ? "yes" : "NO", String(x.nextUpChanges)]);
const esc = (s) => s.replace(/\|/g, "\\|");
console.log(`\nFault suite, ${new Date().toISOString()} (${rows.length} scenario(s)):\n`);
console.log(`| ${head.join(" | ")} |\n|${head.map(() => "---").join("|")}|`);
for (const c of cells) console.log(`| ${c.map(esc).join(" | ")} |`);
process.exit(r.status ?? 1);
