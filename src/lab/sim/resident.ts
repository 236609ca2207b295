// The resident node simulator: one Node process per lab host, started by the first client shim that finds
// none (shim.ts), inside that host's namespaces (network, mount, UTS: it sees the host's files at their
// normal paths and binds ports in the host's network). It serves 127.0.0.1:RESIDENT_PORT and leaves after
// KUBESIM_RESIDENT_IDLE_MS (default 60 s) without a command.
//
// Protocol (one command per connection): the client sends NUL-terminated fields
//   "kubesim1", the key, its PID, argc, argv[0] (the tool), argv[1] …
// The key is a random string the simulator writes to /run/kubesim/resident.key (0600) before it listens:
// a client that can read it is root, so the PID it names is trusted (not its peer's PID proven: that would
// need /proc/net/tcp, a walk of the machine-wide TCP hash costing ≈ 10 ms here). The simulator checks that
// the PID is a root process with a socket on fd 3, reads the client's environment, cwd, uid and umask
// from /proc/PID, opens /proc/PID/fd/0, 1 and 2 (its stdin, stdout, stderr: pipes, files or a terminal),
// answers "+\n", runs the command (command.ts: faults, tools, command log, exactly as a Node start would)
// and answers the exit code "N\n". When the connection closes first (the client was killed: a timeout or
// an interrupt kills the command's process group), a fault's delay or hang in progress ends and the
// command is not run; a tool already running finishes.
//
// Per-process state shared by concurrent commands: the working directory and umask are set from the client
// before each command starts (a command that reads relative paths after an await could see another's);
// synchronous tool code runs one command at a time.
import { randomBytes } from "node:crypto";
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { procRef } from "../procs.js";
import { Aborted, onWriteError, runCommand, writeAll } from "./command.js";
import { KEY as KEY_FILE, RESIDENT_PORT } from "./shim.js";
import { writeJson } from "./util.js";

const MAGIC = "kubesim1";

interface Request {
  key: string;
  pid: number;
  argv: string[];
}

/** Parse the request once complete; undefined while more bytes are needed. Throws on a malformed one. */
export function parseRequest(buf: Buffer): Request | undefined {
  const fields: string[] = [];
  let start = 0;
  for (;;) {
    const nul = buf.indexOf(0, start);
    if (nul < 0) return undefined;
    fields.push(buf.subarray(start, nul).toString("utf8"));
    start = nul + 1;
    if (fields.length === 1 && fields[0] !== MAGIC) throw new Error("not a kubesim client");
    if (fields.length >= 4) {
      const argc = Number(fields[3]);
      if (!Number.isInteger(argc) || argc < 1 || argc > 100_000) throw new Error(`bad argc ${fields[3]}`);
      if (fields.length === 4 + argc) {
        const pid = Number(fields[2]);
        if (!Number.isInteger(pid) || pid <= 0) throw new Error(`bad pid ${fields[2]}`);
        return { key: fields[1]!, pid, argv: fields.slice(4) };
      }
    }
  }
}


function parseEnviron(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of text.split("\0")) {
    const eq = kv.indexOf("=");
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return env;
}

interface Client {
  env: Record<string, string>;
  cwd: string;
  uid: number;
  umask: number;
  stdio: [number, number, number];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything the command takes from the client process. Throws when the PID is not a root client's. */
async function openClient(pid: number, labDir: string): Promise<Client> {
  let link = "";
  try {
    link = readlinkSync(`/proc/${pid}/fd/3`);
  } catch {
    /* gone */
  }
  if (!link.startsWith("socket:")) throw new Error(`PID ${pid} holds no connection on fd 3`);
  // bash writes the request with `printf … >&3`: fd 1 is the connection until the builtin returns and bash
  // puts the saved stdout back. The request can arrive first; wait until no stdio fd is the connection.
  const onSocket = () =>
    [0, 1, 2].some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === link;
      } catch {
        return false;
      }
    });
  for (let i = 0; onSocket(); i++) {
    if (i >= 1000) throw new Error(`PID ${pid}: its stdout stays on the connection`);
    await sleep(1);
  }
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const uid = Number(/^Uid:\s+\d+\s+(\d+)/m.exec(status)?.[1] ?? -1);
  if (uid !== 0) throw new Error(`PID ${pid} is not root`);
  const umask = Number.parseInt(/^Umask:\s+([0-7]+)/m.exec(status)?.[1] ?? "022", 8);
  const env = { ...parseEnviron(readFileSync(`/proc/${pid}/environ`, "utf8")), KUBESIM_LAB_DIR: labDir };
  const cwd = readlinkSync(`/proc/${pid}/cwd`);
  const opened: number[] = [];
  const open = (fd: number, flags: string): number => {
    let n: number;
    try {
      n = openSync(`/proc/${pid}/fd/${fd}`, flags);
    } catch (e) {
      // closed in the client: as for a real tool, its output goes nowhere. Anything else (a socket: ENXIO)
      // cannot be served here: refused, and the client runs the command with a Node start of its own.
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
        for (const o of opened) closeSync(o);
        let what = "?";
        try {
          what = readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          /* gone */
        }
        throw new Error(`PID ${pid}: fd ${fd} (${what}): ${(e as Error).message}`);
      }
      n = openSync("/dev/null", flags);
    }
    opened.push(n);
    return n;
  };
  const stdin = open(0, "r");
  const stdout = open(1, "a");
  const stderr = open(2, "a");
  return { env, cwd, uid, umask, stdio: [stdin, stdout, stderr] };
}

function closeClient(c: Client | undefined): void {
  for (const fd of c?.stdio ?? []) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
  }
}

export async function serveResident(labDir: string): Promise<void> {
  if (!labDir) {
    process.stderr.write("kubesim: usage: main.js --resident LAB_DIR\n");
    process.exit(2);
  }
  process.chdir("/");
  const host = readFileSync("/run/kubesim/host", "utf8").trim();
  const key = randomBytes(16).toString("hex");
  const hostDir = path.join(labDir, "hosts", host);
  const procFile = path.join(hostDir, "procs", "resident.json");
  const logFile = path.join(hostDir, "resident.log");
  const log = (s: string) => {
    try {
      appendFileSync(logFile, `${new Date().toISOString()} [${process.pid}] ${s}\n`);
    } catch {
      /* the lab is going down */
    }
  };
  onWriteError((fd, m) => log(`write to fd ${fd}: ${m}`));
  process.on("uncaughtException", (e) => log(`uncaught: ${e.stack ?? String(e)}`));
  process.on("unhandledRejection", (e) => log(`unhandled rejection: ${(e as Error)?.stack ?? String(e)}`));

  const idleMs = Number(process.env.KUBESIM_RESIDENT_IDLE_MS ?? 60_000);
  let active = 0;
  let idle: NodeJS.Timeout | undefined;
  const server = net.createServer({ noDelay: true });
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      if (active > 0) return;
      server.close();
      rmSync(KEY_FILE, { force: true });
      rmSync(procFile, { force: true });
      log("idle: exiting");
      process.exit(0);
    }, idleMs);
  };

  server.on("connection", (sock) => {
    active++;
    clearTimeout(idle);
    let buf = Buffer.alloc(0);
    let started = false;
    let finished = false;
    const ac = new AbortController();
    const done = () => {
      if (finished) return;
      finished = true;
      if (--active === 0) armIdle();
    };
    sock.on("error", () => {});
    sock.on("close", () => {
      if (!started) done();
      else ac.abort(); // the client went away; done() follows when the command returns
    });
    sock.on("data", (chunk: Buffer) => {
      if (started) return;
      buf = Buffer.concat([buf, chunk]);
      let req: Request | undefined;
      try {
        req = parseRequest(buf);
      } catch (e) {
        log(`bad request: ${(e as Error).message}`);
        sock.destroy();
        return;
      }
      if (!req) return;
      started = true;
      void (async () => {
        let c: Client;
        try {
          if (req.key !== key) throw new Error("wrong key");
          c = await openClient(req.pid, labDir);
        } catch (e) {
          log(`refused: ${(e as Error).message}`);
          sock.destroy();
          done();
          return;
        }
        // the working directory and umask are the process's: set from this client just before its command
        try {
          process.chdir(c.cwd);
        } catch {
          process.chdir("/");
        }
        process.umask(c.umask);
        sock.write("+\n");
        try {
          const code = await runCommand({ argv: req.argv, env: c.env, uid: c.uid, stdio: c.stdio, signal: ac.signal });
          closeClient(c);
          sock.end(`${code}\n`);
        } catch (e) {
          if (!(e instanceof Aborted)) {
            writeAll(c.stdio[2], `kubesim: ${String(e)}\n`);
            log(`command failed: ${(e as Error)?.stack ?? String(e)}`);
          }
          closeClient(c);
          if (e instanceof Aborted) sock.destroy();
          else sock.end("70\n");
        } finally {
          done();
        }
      })();
    });
  });

  await new Promise<void>((resolve) => {
    server.once("error", (e: NodeJS.ErrnoException) => {
      // another client started one at the same moment: that one serves
      if (e.code === "EADDRINUSE") process.exit(0);
      log(`cannot listen: ${e.message}`);
      process.exit(1);
    });
    server.listen({ host: "127.0.0.1", port: RESIDENT_PORT }, resolve);
  });
  // The key once the port is ours (a simulator that lost the race exited above), before any connection is
  // served. A client that read an older key is refused and runs the command with a Node start of its own.
  writeFileSync(`${KEY_FILE}.tmp`, `${key}\n`, { mode: 0o600 });
  renameSync(`${KEY_FILE}.tmp`, KEY_FILE);
  mkdirSync(path.dirname(procFile), { recursive: true });
  writeJson(procFile, procRef(process.pid, `resident simulator ${host}`));
  log(`listening on 127.0.0.1:${RESIDENT_PORT}`);
  armIdle();
}
