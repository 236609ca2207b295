#!/usr/bin/env node
// Run the API simulator in the foreground:
//   node dist/lab/apisim/main.js --host H --port P --pki DIR [--state FILE] [--version v1.33.4] [--version-file FILE]
//     [--ready-after-ms N] [--registry-mirror PREFIX=UPSTREAM[,UPSTREAM…]]… [--verbose] [--socket PATH] [--quorum-of LABDIR]
// --socket serves on a unix socket instead (the lab's one store behind every control plane's front);
// --quorum-of makes every request fail while the lab's simulated etcd has no quorum (lab/sim/etcd.ts).
// Prints "listening on https://H:P" once on stdout and nothing after; request logs (--verbose) and errors
// go to stderr. Stops cleanly on SIGTERM/SIGINT.

import { parseArgs } from "node:util";
import { KubesmithError } from "../../errors.js";
import { parseRegistryMirror, type RegistryMirror } from "./known-images.js";
import { startApiServer } from "./server.js";
import { cachedQuorum } from "../sim/etcd.js";
import path from "node:path";
import { readFileSync, writeFileSync } from "node:fs";
import type { KObject } from "./types.js";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "6443" },
      pki: { type: "string" },
      state: { type: "string" },
      version: { type: "string" },
      "version-file": { type: "string" },
      "extra-san": { type: "string", multiple: true },
      "ready-after-ms": { type: "string" },
      "registry-mirror": { type: "string", multiple: true },
      verbose: { type: "boolean", default: false },
      socket: { type: "string" },
      "quorum-of": { type: "string" },
    },
    strict: true,
  });
  if (!values.pki) {
    process.stderr.write("apisim: --pki DIR is required (a directory with ca.crt and ca.key)\n");
    return 2;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`apisim: --port ${values.port} is not a port number\n`);
    return 2;
  }
  const readyAfter = values["ready-after-ms"];
  if (readyAfter !== undefined && !/^\d+$/.test(readyAfter)) {
    process.stderr.write(`apisim: --ready-after-ms ${readyAfter} is not a number of milliseconds\n`);
    return 2;
  }
  let registryMirrors: RegistryMirror[];
  try {
    registryMirrors = (values["registry-mirror"] ?? []).map(parseRegistryMirror);
  } catch (e) {
    process.stderr.write(`apisim: --registry-mirror: ${(e as Error).message}\n`);
    return 2;
  }
  const verbose = values.verbose;
  const server = await startApiServer({
    host: values.host,
    port,
    pkiDir: values.pki,
    ...(values.state ? { stateFile: values.state } : {}),
    ...(values.version ? { version: values.version } : {}),
    ...(values["version-file"] ? { versionFile: values["version-file"] } : {}),
    ...(values["extra-san"] ? { extraSans: values["extra-san"] } : {}),
    ...(readyAfter !== undefined ? { readyAfterMs: Number(readyAfter) } : {}),
    ...(registryMirrors.length ? { registryMirrors } : {}),
    ...(values.socket ? { socketPath: values.socket } : {}),
    ...(values["quorum-of"] ? { unavailable: cachedQuorum(values["quorum-of"], path.join(values["quorum-of"], "cluster")) } : {}),
    log: (s) => {
      if (verbose || !s.startsWith("apisim: ")) process.stderr.write(`${s}\n`);
    },
  });
  process.stdout.write(`listening on ${server.url}\n`);
  // an etcd restore in the lab (lab/sim/static-pods.ts): take the snapshot named in restore-request.json
  if (values.state) {
    const dir = path.dirname(values.state);
    process.on("SIGUSR2", () => {
      try {
        const req = JSON.parse(readFileSync(path.join(dir, "restore-request.json"), "utf8")) as { token: string; revision: number; objects: Record<string, KObject[]> };
        server.store.replaceState(req);
        writeFileSync(path.join(dir, "restore-applied.json"), `${JSON.stringify({ token: req.token, at: new Date().toISOString() })}\n`);
      } catch (e) {
        process.stderr.write(`apisim: restore failed: ${(e as Error).message}\n`);
      }
    });
  }
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      void server.close().then(resolve);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`apisim: ${e instanceof KubesmithError ? e.oneLine() : ((e as Error).stack ?? String(e))}\n`);
    process.exit(e instanceof KubesmithError ? e.exitCode : 1);
  },
);
