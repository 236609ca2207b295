// The run report: one self-contained HTML file per run (inline CSS, inline SVG, a few lines of inline JS,
// nothing fetched) showing where the time went: a timeline of phases and of each host within them, every
// remote command with its duration and result, failures highlighted, and how the run ended.
import { logsCommand } from "../cluster/state.js";
import { closeSync, existsSync, openSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../errors.js";
import type { Stamped } from "../ui/events.js";
import { buildRunModel, commandFailed, parseEvents, type PhaseRow, type RunModel } from "./timeline.js";

export const REPORT_FILE = "report.html";

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function fmtMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** A tick step (ms) giving about `n` ticks over `total`. */
function tickStep(total: number, n = 8): number {
  const raw = Math.max(1, total / n);
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const k of [1, 2, 5, 10]) if (k * pow >= raw) return k * pow;
  return 10 * pow;
}

const COLORS = {
  phase: "#2563eb",
  phaseFailed: "#dc2626",
  hostDone: "#16a34a",
  hostFailed: "#ef4444",
  hostSkipped: "#a3a3a3",
  running: "#f59e0b",
  command: "#1e293b",
  commandFailed: "#b91c1c",
};

const LABEL_W = 280;
const CHART_W = 900;
/** Room right of the chart for the last bar's duration and a failed host's message. */
const RIGHT_W = 260;
const PHASE_H = 24;
const HOST_H = 16;

/** Where a report's text goes piece by piece (an array, or a file; see writeRunReport). */
type Sink = (s: string) => void;

const collect = (render: (out: Sink) => void): string => {
  const parts: string[] = [];
  render((x) => parts.push(x));
  return parts.join("");
};

/** The Gantt chart: a row per phase, under it a row per host that worked in that phase. */
export function renderTimeline(m: RunModel): string {
  return collect((out) => timelineTo(m, out));
}

function timelineTo(m: RunModel, out: Sink): void {
  const total = Math.max(1, m.durationMs);
  const x = (ms: number) => LABEL_W + (ms / total) * CHART_W;
  const w = (a: number, b: number) => Math.max(2, ((b - a) / total) * CHART_W);
  const parts: string[] = [];
  let y = 28;
  const step = tickStep(total);
  const rowsStart = y;
  // The height first (the <svg> element names it), so that the rows can be written as they are made.
  const height = rowsStart + m.phases.reduce((sum, p) => sum + PHASE_H + p.hosts.length * HOST_H, 0) + 10;
  const body: Sink = out;
  const phaseRow = (p: PhaseRow) => {
    const label = `${p.phase}${p.status === "skipped" ? ` (skipped: ${p.reason ?? ""})` : ""}`;
    const cls = p.status === "failed" ? "failed" : p.status === "skipped" ? "skipped" : "";
    body(`<g class="phase ${cls}" data-phase="${esc(p.phase)}">`);
    body(`<rect x="0" y="${y}" width="${LABEL_W + CHART_W + RIGHT_W}" height="${PHASE_H}" class="band"/>`);
    body(`<text x="8" y="${y + 16}" class="plabel">${esc(label.length > 44 ? `${label.slice(0, 43)}…` : label)}</text>`);
    if (p.status !== "skipped") {
      const color = p.status === "failed" ? COLORS.phaseFailed : p.status === "running" ? COLORS.running : COLORS.phase;
      body(
        `<rect x="${x(p.start).toFixed(1)}" y="${y + 4}" width="${w(p.start, p.end).toFixed(1)}" height="${PHASE_H - 8}" rx="3" fill="${color}"><title>${esc(`${p.phase}: ${p.status} in ${fmtMs(p.end - p.start)}${p.error ? ` — ${p.error}` : ""}`)}</title></rect>`,
      );
      body(`<text x="${(x(p.end) + 4).toFixed(1)}" y="${y + 16}" class="dur">${esc(fmtMs(p.end - p.start))}</text>`);
    } else {
      body(`<circle cx="${x(p.start).toFixed(1)}" cy="${y + PHASE_H / 2}" r="4" fill="${COLORS.hostSkipped}"><title>${esc(`skipped: ${p.reason ?? ""}`)}</title></circle>`);
    }
    body(`</g>`);
    y += PHASE_H;
    for (const h of p.hosts) {
      const color = h.status === "failed" ? COLORS.hostFailed : h.status === "skipped" ? COLORS.hostSkipped : h.status === "running" ? COLORS.running : COLORS.hostDone;
      body(`<g class="host ${h.status}" data-host="${esc(h.host)}">`);
      body(`<text x="24" y="${y + 12}" class="hlabel">${esc(h.host)}</text>`);
      body(
        `<rect x="${x(h.start).toFixed(1)}" y="${y + 3}" width="${w(h.start, h.end).toFixed(1)}" height="${HOST_H - 6}" rx="2" fill="${color}"><title>${esc(`${h.host}: ${h.status} in ${fmtMs(h.end - h.start)}${h.detail ? ` — ${h.detail}` : ""}`)}</title></rect>`,
      );
      // The commands this host ran inside that span, as ticks on the bar.
      for (const c of m.commands) {
        if (c.host !== h.host || c.end < h.start || c.start > h.end) continue;
        const failed = commandFailed(c);
        body(
          `<rect x="${x(c.start).toFixed(1)}" y="${y + HOST_H - 4}" width="${w(c.start, c.end).toFixed(1)}" height="2" fill="${failed ? COLORS.commandFailed : COLORS.command}"><title>${esc(`${c.label ?? c.command}: exit ${c.code ?? "none"} in ${fmtMs(c.durationMs)}`)}</title></rect>`,
        );
      }
      if (h.status === "failed" && h.detail) body(`<text x="${(x(h.end) + 4).toFixed(1)}" y="${y + 12}" class="err">${esc(h.detail.slice(0, 60))}</text>`);
      body(`</g>`);
      y += HOST_H;
    }
  };
  // Axis and grid.
  parts.push(`<text x="8" y="18" class="axis">phase / host</text>`);
  for (let t = 0; t <= total + 1e-9; t += step) {
    const xx = x(t).toFixed(1);
    parts.push(`<line x1="${xx}" y1="${rowsStart - 6}" x2="${xx}" y2="${height - 6}" class="grid"/>`);
    parts.push(`<text x="${xx}" y="18" class="axis" text-anchor="middle">${esc(fmtMs(t))}</text>`);
  }
  out(`<svg xmlns="http://www.w3.org/2000/svg" id="timeline" viewBox="0 0 ${LABEL_W + CHART_W + RIGHT_W} ${height}" width="100%" preserveAspectRatio="xMinYMin meet" role="img" aria-label="timeline of phases per host">${parts.join("")}`);
  for (const p of m.phases) phaseRow(p);
  out(`</svg>`);
}

function commandsTableTo(m: RunModel, out: Sink): void {
  if (!m.commands.length) return out(`<p class="muted">No remote commands were recorded.</p>`);
  const max = m.commands.reduce((a, c) => Math.max(a, c.durationMs), 1);
  out(`<label class="filter"><input type="checkbox" id="only-failed"> only failed commands</label>
<table id="commands"><thead><tr><th>at</th><th>host</th><th>phase</th><th>command</th><th>exit</th><th>took</th><th></th></tr></thead><tbody>`);
  for (const c of m.commands) {
    const failed = commandFailed(c);
    const bar = `<span class="bar${failed ? " failed" : ""}" style="width:${Math.max(1, Math.round((c.durationMs / max) * 160))}px"></span>`;
    out(`<tr class="${failed ? "failed" : "ok"}"><td>${esc(fmtMs(c.start))}</td><td>${esc(c.host)}</td><td>${esc(c.phase ?? "")}</td><td title="${esc(c.command)}">${esc(c.label ?? c.command.split("\n")[0]!.slice(0, 100))}</td><td class="num">${c.code === null ? "killed" : c.code}</td><td class="num">${esc(fmtMs(c.durationMs))}</td><td>${bar}</td></tr>`);
  }
  out(`</tbody></table>`);
}

function hostTotals(m: RunModel): string {
  if (!m.hosts.length) return "";
  const rows = m.hosts.map((h) => {
    const cmds = m.commands.filter((c) => c.host === h);
    const busy = cmds.reduce((a, c) => a + c.durationMs, 0);
    const failed = cmds.filter(commandFailed).length + m.phases.flatMap((p) => p.hosts).filter((s) => s.host === h && s.status === "failed").length;
    return `<tr class="${failed ? "failed" : ""}"><td>${esc(h)}</td><td class="num">${cmds.length}</td><td class="num">${esc(fmtMs(busy))}</td><td class="num">${failed}</td></tr>`;
  });
  return `<table><thead><tr><th>host</th><th>commands</th><th>time in commands</th><th>failures</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

export function renderRunReport(m: RunModel): string {
  return collect((out) => runReportTo(m, out));
}

/** The report, written to `out` piece by piece (a 200-host run's report is ≈ 8 MB: never one string). */
function runReportTo(m: RunModel, out: Sink): void {
  const title = `kubesmith ${m.command} ${m.cluster}`;
  const outcome = m.outcome === "ok" ? "succeeded" : m.outcome === "failed" ? "FAILED" : "did not finish";
  const failedPhases = m.phases.filter((p) => p.status === "failed");
  // Each failure: its line (escaped text), then the cause's output and where to see all of it.
  const failure = (line: string, host?: string, output?: string[]): string =>
    esc(line) +
    (output?.length ? `<pre class="cause">${esc(output.join("\n"))}</pre>` : "") +
    (host && m.inventory && m.runDir ? `<div class="more">whole output: <code>${esc(logsCommand(m.inventory, m.runDir, host))}</code></div>` : "");
  const failures = [
    // A phase whose hosts failed is told by those hosts' lines.
    ...failedPhases.filter((p) => !p.hosts.some((h) => h.status === "failed")).map((p) => failure(`${p.phase}: ${p.error ?? "failed"}`)),
    ...m.phases.flatMap((p) => p.hosts.filter((h) => h.status === "failed").map((h) => failure(`${p.phase} on ${h.host}: ${h.detail ?? "failed"}`, h.host, h.output))),
    ...m.errors.map((e) => failure(`${e.host ? `${e.host}: ` : ""}${e.message} (exit code ${e.exitCode})`, e.host)),
  ];
  const slow = [...m.phases].filter((p) => p.status !== "skipped").sort((a, b) => b.end - b.start - (a.end - a.start)).slice(0, 3);
  out(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:20px 28px;color:#0f172a;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:26px 0 8px}
.muted{color:#64748b}
.outcome{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;color:#fff}
.outcome.ok{background:#16a34a} .outcome.failed{background:#dc2626} .outcome.unfinished{background:#f59e0b}
.facts{display:flex;gap:28px;margin:12px 0;flex-wrap:wrap} .facts div{min-width:110px} .facts b{display:block;font-size:20px}
.failures{border-left:5px solid #dc2626;background:#fef2f2;padding:8px 14px;margin:12px 0}
.failures li{margin:2px 0}
.failures pre.cause{margin:4px 0;padding:6px 8px;background:#fff;border:1px solid #fecaca;white-space:pre-wrap;word-break:break-all;font-size:12px}
.failures .more{font-size:12px;color:#475569}
.timeline{border:1px solid #e2e8f0;border-radius:6px;padding:6px 0}
svg text{font:12px system-ui,sans-serif;fill:#0f172a} svg .axis{fill:#64748b;font-size:11px}
svg .grid{stroke:#e2e8f0;stroke-width:1} svg .band{fill:#f8fafc}
svg .phase .plabel{font-weight:600} svg .phase.failed .plabel,svg .err{fill:#b91c1c} svg .phase.skipped .plabel{fill:#94a3b8;font-weight:400}
svg .hlabel{fill:#475569;font-size:11px} svg .dur{fill:#475569;font-size:11px}
table{border-collapse:collapse;margin:6px 0;font-size:13px} th,td{text-align:left;padding:3px 10px;border-bottom:1px solid #e2e8f0;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.failed td{background:#fee2e2;color:#991b1b}
.bar{display:inline-block;height:8px;background:#334155;border-radius:2px} .bar.failed{background:#dc2626}
.legend span{display:inline-block;margin-right:14px} .legend i{display:inline-block;width:14px;height:9px;margin-right:5px;border-radius:2px;vertical-align:middle}
.filter{display:block;margin:4px 0}
</style></head>
<body>
<h1>${esc(title)} <span class="outcome ${m.outcome}">${outcome}</span></h1>
<div class="muted">${m.startedAt ? `started ${esc(m.startedAt)}` : ""}${m.dryRun ? " · dry run: nothing was changed" : ""}${m.limit ? ` · --limit ${esc(m.limit.join(", "))}: no other host was changed` : ""}</div>
<div class="facts">
<div><b>${esc(fmtMs(m.durationMs))}</b>total</div>
<div><b>${m.phases.filter((p) => p.status !== "skipped").length}</b>phases run</div>
<div><b>${m.phases.filter((p) => p.status === "skipped").length}</b>skipped</div>
<div><b>${m.hosts.length}</b>hosts</div>
<div><b>${m.commands.length}</b>commands</div>
<div><b>${m.changes || m.changeList.length}</b>changes</div>
<div><b>${m.warnings.length}</b>warnings</div>
</div>
${failures.length ? `<div class="failures" id="failures"><b>What failed</b><ul>${failures.map((f) => `<li>${f}</li>`).join("")}</ul></div>` : ""}
${slow.length ? `<p class="muted">Most time: ${slow.map((p) => `${esc(p.phase)} (${esc(fmtMs(p.end - p.start))})`).join(", ")}.</p>` : ""}
<h2>Timeline</h2>
<div class="legend"><span><i style="background:${COLORS.phase}"></i>phase</span><span><i style="background:${COLORS.hostDone}"></i>host done</span><span><i style="background:${COLORS.hostFailed}"></i>host failed</span><span><i style="background:${COLORS.running}"></i>unfinished</span><span><i style="background:${COLORS.command}"></i>commands (ticks)</span></div>
<div class="timeline">`);
  timelineTo(m, out);
  out(`</div>
<h2>Hosts</h2>
${hostTotals(m)}
<h2>Commands</h2>
`);
  commandsTableTo(m, out);
  out(`
${m.changeList.length ? `<h2>Changes</h2><table><thead><tr><th>phase</th><th>host</th><th>${m.dryRun ? "would change" : "changed"}</th></tr></thead><tbody>${m.changeList.map((c) => `<tr><td>${esc(c.phase)}</td><td>${esc(c.host)}</td><td>${esc(c.what)}</td></tr>`).join("")}</tbody></table>` : ""}
${m.warnings.length ? `<h2>Warnings</h2><ul>${m.warnings.map((w) => `<li>${esc(`${w.host ? `${w.host}: ` : ""}${w.message}`)}</li>`).join("")}</ul>` : ""}
<h2>Final state</h2>
<p id="final">The run ${outcome}${m.outcome !== "unfinished" ? ` after ${esc(fmtMs(m.durationMs))} with ${m.changes || m.changeList.length} change(s)` : ""}.${failedPhases.length ? ` It stopped in <b>${esc(failedPhases[0]!.phase)}</b>.` : ""}</p>
<script>
(function(){var b=document.getElementById("only-failed");if(!b)return;b.addEventListener("change",function(){
document.querySelectorAll("#commands tbody tr.ok").forEach(function(r){r.style.display=b.checked?"none":""});});})();
</script>
</body></html>
`);
}

/**
 * events.jsonl read 1 MiB at a time (a 200-host run's is ≈ 8 MB: never one string), cut at line ends. A
 * command event's text (its script: ≈ 7 M characters at 200 hosts, the report's largest part) is not kept: its
 * `command` is read back from the file, by the line's offset, when the report writes it (issue 12: building
 * the report was the 200-host run's peak RSS).
 */
function readEventsFile(file: string): { events: Stamped[]; close: () => void } {
  const fd = openSync(file, "r");
  const events: Stamped[] = [];
  const buf = Buffer.alloc(1 << 20);
  let rest = Buffer.alloc(0);
  let restAt = 0; // file offset of rest's first byte
  const lineAt = (offset: number, length: number): string => {
    const line = Buffer.alloc(length);
    for (let got = 0; got < length; ) got += readSync(fd, line, got, length - got, offset + got);
    return line.toString("utf8");
  };
  const take = (chunk: Buffer, chunkAt: number, end: number) => {
    let start = 0;
    while (start < end) {
      let nl = chunk.indexOf(10, start);
      if (nl < 0 || nl > end) nl = end;
      const text = chunk.subarray(start, nl).toString("utf8");
      for (const e of parseEvents(text)) {
        if (e.kind === "command" && typeof (e as { command?: unknown }).command === "string") {
          const offset = chunkAt + start;
          const length = nl - start;
          Object.defineProperty(e, "command", {
            enumerable: true,
            get: () => (JSON.parse(lineAt(offset, length)) as { command: string }).command,
          });
        }
        events.push(e);
      }
      start = nl + 1;
    }
  };
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const chunk = Buffer.concat([rest, buf.subarray(0, n)]);
      const nl = chunk.lastIndexOf(10); // "\n" never occurs inside a UTF-8 sequence
      if (nl < 0) {
        rest = chunk;
        continue;
      }
      take(chunk, restAt, nl);
      rest = Buffer.from(chunk.subarray(nl + 1));
      restAt += nl + 1;
    }
    if (rest.length) take(rest, restAt, rest.length);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return { events, close: () => closeSync(fd) };
}

/** Reads <runDir>/events.jsonl and writes <runDir>/report.html; returns the report's path. */
export function writeRunReport(runDir: string): string {
  const file = join(runDir, "events.jsonl");
  if (!existsSync(file)) throw new UsageError(`no events.jsonl in ${runDir}: not a kubesmith run directory`);
  const read = readEventsFile(file);
  const out = join(runDir, REPORT_FILE);
  // Written in pieces of ≈ 256 KiB: building the whole report as one string, then a Buffer of it, took
  // `up` past its memory budget at 200 hosts (issue 12; docs/performance.md).
  const fd = openSync(out, "w", 0o600);
  try {
    const model = buildRunModel(read.events);
    let pending: string[] = [];
    let size = 0;
    const flush = () => {
      let buf = Buffer.from(pending.join(""));
      while (buf.length > 0) buf = buf.subarray(writeSync(fd, buf));
      pending = [];
      size = 0;
    };
    runReportTo(model, (s) => {
      pending.push(s);
      size += s.length;
      if (size >= 256 * 1024) flush();
    });
    flush();
  } finally {
    closeSync(fd);
    read.close();
  }
  return out;
}
