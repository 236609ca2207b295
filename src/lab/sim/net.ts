// curl and gpg on a lab host. The hosts have no internet: the few URLs the installer downloads
// (pkgs.k8s.io keys, Docker's key and repo file) are answered from here, deterministically; loopback and
// lab addresses go to the machine's real curl (the host's network namespace reaches nothing else);
// any other name fails the way curl does without DNS.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { armor, dearmor, keyArmored } from "./keys.js";
import { K8S_MINORS } from "./repos.js";
import { allowedAddress, fail, resolveLocal, type Sim } from "./util.js";

const REAL_CURL = "/usr/bin/curl";
const REAL_GPG = "/usr/bin/gpg";

interface Response {
  status: number;
  body: string;
  location?: string;
}

const notFound = (u: URL): Response => ({
  status: 404,
  body: `<html>\n<head><title>404 Not Found</title></head>\n<body>\n<h1>404 Not Found</h1>\n<p>${u.pathname}</p>\n</body>\n</html>\n`,
});

/** The Docker .repo file for RHEL-likes, as download.docker.com serves it (stable channel only). */
function dockerRepoFile(distro: string): string {
  return [
    "[docker-ce-stable]",
    "name=Docker CE Stable - $basearch",
    `baseurl=https://download.docker.com/linux/${distro}/$releasever/$basearch/stable`,
    "enabled=1",
    "gpgcheck=1",
    `gpgkey=https://download.docker.com/linux/${distro}/gpg`,
    "",
  ].join("\n");
}

/** The simulated internet: undefined for a host it does not know. */
export function simulatedFetch(u: URL): Response | undefined {
  if (u.hostname === "pkgs.k8s.io") {
    const m = /^\/core:\/stable:\/v(1\.\d+)\/(.*)$/.exec(u.pathname);
    if (!m) return notFound(u);
    const location = `https://prod-cdn.packages.k8s.io/repositories/isv:/kubernetes:/core:/stable:/v${m[1]}/${m[2]}`;
    return { status: 302, location, body: `<a href="${location}">Found</a>.\n\n` };
  }
  if (u.hostname === "prod-cdn.packages.k8s.io") {
    const m = /^\/repositories\/isv:\/kubernetes:\/core:\/stable:\/v(1\.\d+)\/(deb\/Release\.key|rpm\/repodata\/repomd\.xml\.key)$/.exec(u.pathname);
    if (!m || !(m[1]! in K8S_MINORS)) return notFound(u);
    return { status: 200, body: keyArmored("kubernetes") };
  }
  if (u.hostname === "download.docker.com") {
    const m = /^\/linux\/(debian|ubuntu|centos|rhel|fedora)\/(gpg|docker-ce\.repo)$/.exec(u.pathname);
    if (!m) return notFound(u);
    const rpm = m[1] === "centos" || m[1] === "rhel" || m[1] === "fedora";
    if (m[2] === "gpg") return { status: 200, body: keyArmored(rpm ? "dockerRpm" : "docker") };
    return rpm ? { status: 200, body: dockerRepoFile(m[1]!) } : notFound(u);
  }
  return undefined;
}

// curl options that take a value (short letters and long names); everything else is a switch.
const CURL_SHORT_VALUE = new Set("oHdXumwAeTFxcbryYzKEUCPQt");
const CURL_LONG_VALUE = new Set([
  "output", "header", "data", "data-raw", "data-binary", "data-urlencode", "data-ascii", "request", "user", "retry",
  "retry-delay", "retry-max-time", "max-time", "connect-timeout", "write-out", "user-agent", "referer", "cacert",
  "capath", "cert", "key", "upload-file", "form", "proxy", "cookie", "cookie-jar", "range", "resolve", "url",
  "output-dir", "max-redirs", "interface", "dns-servers", "limit-rate", "config", "continue-at", "expect100-timeout",
]);

interface CurlArgs {
  urls: string[];
  short: Set<string>;
  long: Set<string>;
  output?: string;
  maxRedirs: number;
}

function parseCurl(args: string[]): CurlArgs {
  const c: CurlArgs = { urls: [], short: new Set(), long: new Set(), maxRedirs: 50 };
  const value = (name: string, v: string | undefined) => {
    if (v === undefined) fail(2, `curl: option ${name.length === 1 ? `-${name}` : `--${name}`}: requires parameter\ncurl: try 'curl --help' or 'curl --manual' for more information`);
    if (name === "o" || name === "output") c.output = v;
    else if (name === "url") c.urls.push(v);
    else if (name === "max-redirs") c.maxRedirs = Number(v);
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (CURL_LONG_VALUE.has(name)) value(name, eq > 0 ? a.slice(eq + 1) : args[++i]);
      else c.long.add(name);
    } else if (a.startsWith("-") && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const ch = a[j]!;
        if (CURL_SHORT_VALUE.has(ch)) {
          value(ch, j + 1 < a.length ? a.slice(j + 1) : args[++i]);
          break;
        }
        c.short.add(ch);
      }
    } else c.urls.push(a);
  }
  return c;
}

export function curl(sim: Sim, args: string[]): number {
  const c = parseCurl(args);
  const has = (s: string, l: string) => c.short.has(s) || c.long.has(l);
  const failOnHttp = has("f", "fail");
  const silent = has("s", "silent");
  const showError = has("S", "show-error");
  const follow = has("L", "location");
  const err = (code: number, msg: string): number => {
    if (!silent || showError) sim.err(`curl: (${code}) ${msg}\n`);
    return code;
  };
  if (c.urls.length === 0) fail(2, "curl: no URL specified!\ncurl: try 'curl --help' or 'curl --manual' for more information");

  // Anything not on the simulated internet but reachable (loopback, lab hosts) is fetched for real.
  const parsed = c.urls.map((raw) => {
    try {
      return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
    } catch {
      return undefined;
    }
  });
  if (parsed.every((u) => u && simulatedFetch(u) === undefined && allowedAddress(resolveLocal(u.hostname) ?? "")) && existsSync(REAL_CURL)) {
    const r = spawnSync(REAL_CURL, args, { stdio: sim.stdio, env: sim.env });
    return r.status ?? 1;
  }

  let code = 0;
  let out = "";
  for (const [k, first] of parsed.entries()) {
    if (!first) {
      code = err(3, "URL using bad/illegal format or missing URL");
      continue;
    }
    let u: URL = first;
    let res: Response | undefined;
    for (let hops = 0; ; hops++) {
      res = simulatedFetch(u);
      if (res === undefined) {
        const ip = resolveLocal(u.hostname);
        if (ip === undefined) return err(6, `Could not resolve host: ${u.hostname}`);
        const port = u.port || (u.protocol === "https:" ? "443" : "80");
        return err(7, `Failed to connect to ${u.hostname} port ${port} after 0 ms: Couldn't connect to server`);
      }
      if (res.status >= 300 && res.status < 400 && res.location && follow) {
        if (hops >= c.maxRedirs) return err(47, `Maximum (${c.maxRedirs}) redirects followed`);
        u = new URL(res.location, u);
        continue;
      }
      break;
    }
    if (res.status >= 400 && failOnHttp) {
      code = err(22, `The requested URL returned error: ${res.status}`);
      if (k === parsed.length - 1) break;
      continue;
    }
    out += res.body;
  }
  if (c.output !== undefined && c.output !== "-") {
    if (code !== 0 && out === "") return code;
    try {
      writeFileSync(c.output, out);
    } catch (e) {
      if (!silent || showError) sim.err(`Warning: Failed to open the file ${c.output}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "No such file or directory" : "Permission denied"}\n`);
      return err(23, "Failure writing output to destination");
    }
  } else if (has("O", "remote-name")) {
    const name = path.basename(parsed[0]?.pathname ?? "") || "index.html";
    writeFileSync(name, out);
  } else sim.out(out);
  return code;
}

// ------------------------------------------------------------------------------------------- gpg

/** gpg --dearmor / --enarmor [-o FILE] [--yes] [FILE]; any other gpg command goes to the real gpg. */
export function gpg(sim: Sim, args: string[]): number {
  let mode: "dearmor" | "enarmor" | undefined;
  let output: string | undefined;
  let yes = false;
  const inputs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--dearmor" || a === "--dearmour") mode = "dearmor";
    else if (a === "--enarmor" || a === "--enarmour") mode = "enarmor";
    else if (a === "-o" || a === "--output") output = args[++i];
    else if (a.startsWith("--output=")) output = a.slice(9);
    else if (a === "--yes") yes = true;
    else if (a === "--homedir" || a === "--keyring") i++;
    else if (a.startsWith("-")) continue; // --batch, --no-tty, -q, --quiet …
    else inputs.push(a);
  }
  if (!mode) {
    if (existsSync(REAL_GPG)) return spawnSync(REAL_GPG, args, { stdio: sim.stdio, env: sim.env }).status ?? 2;
    fail(2, "gpg: the lab simulates only --dearmor and --enarmor");
  }
  let input: Buffer;
  const file = inputs[0];
  if (file !== undefined && file !== "-") {
    try {
      input = readFileSync(file);
    } catch {
      fail(2, `gpg: can't open '${file}': No such file or directory\ngpg: ${mode}ing failed: No such file or directory`);
    }
  } else {
    input = sim.stdinBytes();
  }
  const toStdout = output === undefined || output === "-";
  if (!toStdout) {
    if (existsSync(output!) && !yes) fail(2, `gpg: ${mode}ing failed: File exists`);
    writeFileSync(output!, ""); // gpg creates the file before it reads anything
  }
  let result: Buffer;
  if (mode === "dearmor") {
    const bin = dearmor(input.toString("latin1"));
    if (!bin) fail(2, "gpg: no valid OpenPGP data found.");
    result = bin;
  } else result = Buffer.from(armor(input, "PGP ARMORED FILE"));
  if (toStdout) sim.out(result);
  else writeFileSync(output!, result);
  return 0;
}

/** Fetch from the simulated internet following redirects, as dnf does for a gpgkey= URL. */
export function fetchFollow(url: string): { res?: Response; error?: string; code?: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { error: `URL using bad/illegal format or missing URL`, code: 3 };
  }
  for (let hops = 0; hops < 10; hops++) {
    const res = simulatedFetch(u);
    if (!res) return { error: `Couldn't resolve host name for ${url} [Could not resolve host: ${u.hostname}]`, code: 6 };
    if (res.status >= 300 && res.status < 400 && res.location) {
      u = new URL(res.location, u);
      continue;
    }
    if (res.status >= 400) return { error: `HTTP response code said error for ${url} [The requested URL returned error: ${res.status}]`, code: 22 };
    return { res };
  }
  return { error: `Maximum redirects followed for ${url}`, code: 47 };
}
