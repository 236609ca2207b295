// A real SSH server in the test process (ssh2 Server on 127.0.0.1): exec requests run through a real
// /bin/sh -c child with stdin/stdout/stderr piped and the real exit code; SFTP on the real filesystem
// (the handful of operations the runner uses); password and publickey auth; direct-tcpip forwarding
// (for bastion tests). Counts connections, auth attempts, execs and forwards so tests can assert on them.
import { spawn, type ChildProcess } from "node:child_process";
import { constants as fsc, promises as fsp } from "node:fs";
import net from "node:net";
import { resolve as resolvePath } from "node:path";
import { Server, utils } from "ssh2";
import type { Connection, ParsedKey, SFTPWrapper } from "ssh2";

const { STATUS_CODE } = utils.sftp;

export interface TestUser {
  password?: string;
  /** OpenSSH public key line ("ssh-ed25519 AAAA… comment"). */
  publicKey?: string;
  /** Extra environment for this user's commands. */
  env?: Record<string, string>;
}

export interface TestServerOptions {
  users: Record<string, TestUser>;
  /** Host private key (OpenSSH format); default: a fresh ed25519 key. */
  hostKey?: string;
  /** Working directory of exec'd commands. */
  cwd: string;
  /** Extra environment for exec'd commands (e.g. PATH with a fake sudo first). */
  env?: Record<string, string>;
  /** Accept direct-tcpip (forwardOut) requests. */
  allowForwarding?: boolean;
}

export interface TestServerStats {
  connections: number;
  /** Authentication requests other than "none". */
  authAttempts: number;
  authFailures: number;
  execs: string[];
  signals: string[];
  forwards: string[];
  sftpSessions: number;
  /** SFTP requests that change things: "OPEN path", "RENAME a -> b", "REMOVE p", "SETSTAT p 600". */
  sftpOps: string[];
}

export interface TestServer {
  host: "127.0.0.1";
  port: number;
  /** The host key's public blob (what a client's hostVerifier receives). */
  hostKeyBlob: Buffer;
  hostKeyLine: string;
  stats: TestServerStats;
  close(): Promise<void>;
  /** Cut every client's TCP connection from the server side: "end" closes it (FIN), "reset" sends a RST. */
  drop(how: "end" | "reset"): void;
}

/**
 * A fresh ed25519 key pair in OpenSSH format. ssh2's keygen writes a malformed key (31-byte public
 * part) when the public key starts with a zero byte (about 1 in 256), so such keys are drawn again.
 */
export function generateKey(opts?: { passphrase: string }): { private: string; public: string; blob: Buffer } {
  for (;;) {
    const k = opts
      ? utils.generateKeyPairSync("ed25519", { passphrase: opts.passphrase, cipher: "aes256-ctr", rounds: 2 })
      : utils.generateKeyPairSync("ed25519");
    const pub = utils.parseKey(k.public);
    const priv = utils.parseKey(k.private, opts?.passphrase);
    if (pub instanceof Error || Array.isArray(pub) || priv instanceof Error) continue;
    return { private: k.private, public: k.public, blob: pub.getPublicSSH() };
  }
}

function statusOf(err: NodeJS.ErrnoException): number {
  switch (err.code) {
    case "ENOENT":
      return STATUS_CODE.NO_SUCH_FILE;
    case "EACCES":
    case "EPERM":
      return STATUS_CODE.PERMISSION_DENIED;
    default:
      return STATUS_CODE.FAILURE;
  }
}

function attrsOf(st: import("node:fs").Stats) {
  return {
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    atime: Math.floor(st.atimeMs / 1000),
    mtime: Math.floor(st.mtimeMs / 1000),
  };
}

function serveSftp(sftp: SFTPWrapper, cwd: string, ops: string[]): void {
  const fhs = new Map<number, import("node:fs/promises").FileHandle>(); // handle id -> open file
  let nextId = 1;
  const handleBuf = (id: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(id);
    return b;
  };
  const abs = (p: string) => resolvePath(cwd, p);
  const done = (reqid: number) => (err?: NodeJS.ErrnoException | null) =>
    sftp.status(reqid, err ? statusOf(err) : STATUS_CODE.OK, err?.message);

  sftp.on("OPEN", (reqid, filename, flags, attrs) => {
    const mode = utils.sftp.flagsToString(flags) ?? "r";
    if (mode !== "r") ops.push(`OPEN ${filename}`);
    fsp.open(abs(filename), mode, attrs?.mode ?? 0o644).then(
      (fh) => {
        const id = nextId++;
        fhs.set(id, fh);
        sftp.handle(reqid, handleBuf(id));
      },
      (e: NodeJS.ErrnoException) => done(reqid)(e),
    );
  });
  const fhOf = (h: Buffer) => (h.length === 4 ? fhs.get(h.readUInt32BE(0)) : undefined);
  sftp.on("WRITE", (reqid, handle, offset, data) => {
    const fh = fhOf(handle);
    if (!fh) return sftp.status(reqid, STATUS_CODE.FAILURE);
    fh.write(data, 0, data.length, offset).then(() => done(reqid)(), (e) => done(reqid)(e));
  });
  sftp.on("READ", (reqid, handle, offset, length) => {
    const fh = fhOf(handle);
    if (!fh) return sftp.status(reqid, STATUS_CODE.FAILURE);
    const buf = Buffer.alloc(length);
    fh.read(buf, 0, length, offset).then(
      ({ bytesRead }) => (bytesRead === 0 ? sftp.status(reqid, STATUS_CODE.EOF) : sftp.data(reqid, buf.subarray(0, bytesRead))),
      (e) => done(reqid)(e),
    );
  });
  sftp.on("CLOSE", (reqid, handle) => {
    const fh = fhOf(handle);
    if (!fh) return sftp.status(reqid, STATUS_CODE.FAILURE);
    const id = handle.readUInt32BE(0);
    fhs.delete(id);
    fh.close().then(() => done(reqid)(), (e) => done(reqid)(e));
  });
  sftp.on("FSTAT", (reqid, handle) => {
    const fh = fhOf(handle);
    if (!fh) return sftp.status(reqid, STATUS_CODE.FAILURE);
    fh.stat().then((st) => sftp.attrs(reqid, attrsOf(st)), (e) => done(reqid)(e));
  });
  const stat = (fn: typeof fsp.stat) => (reqid: number, path: string) =>
    fn(abs(path)).then((st) => sftp.attrs(reqid, attrsOf(st)), (e) => done(reqid)(e));
  sftp.on("STAT", stat(fsp.stat));
  sftp.on("LSTAT", stat(fsp.lstat));
  const setattrs = async (path: string | undefined, fh: import("node:fs/promises").FileHandle | undefined, a: { mode?: number; uid?: number; gid?: number }) => {
    if (a.mode !== undefined) await (fh ? fh.chmod(a.mode & 0o7777) : fsp.chmod(path as string, a.mode & 0o7777));
    if (a.uid !== undefined && a.gid !== undefined) await (fh ? fh.chown(a.uid, a.gid) : fsp.chown(path as string, a.uid, a.gid));
  };
  sftp.on("SETSTAT", (reqid, path, attrs) => {
    ops.push(`SETSTAT ${path} ${attrs.mode?.toString(8) ?? ""}`);
    setattrs(abs(path), undefined, attrs).then(() => done(reqid)(), (e) => done(reqid)(e));
  });
  sftp.on("FSETSTAT", (reqid, handle, attrs) => {
    const fh = fhOf(handle);
    if (!fh) return sftp.status(reqid, STATUS_CODE.FAILURE);
    ops.push(`FSETSTAT ${attrs.mode?.toString(8) ?? ""}`);
    setattrs(undefined, fh, attrs).then(() => done(reqid)(), (e) => done(reqid)(e));
  });
  sftp.on("RENAME", (reqid, from, to) => {
    // SFTP v3 semantics: refuse to overwrite an existing file.
    ops.push(`RENAME ${from} -> ${to}`);
    fsp.access(abs(to), fsc.F_OK).then(
      () => sftp.status(reqid, STATUS_CODE.FAILURE, "target exists"),
      () => fsp.rename(abs(from), abs(to)).then(() => done(reqid)(), (e) => done(reqid)(e)),
    );
  });
  sftp.on("REMOVE", (reqid, path) => {
    ops.push(`REMOVE ${path}`);
    fsp.unlink(abs(path)).then(() => done(reqid)(), (e) => done(reqid)(e));
  });
  sftp.on("REALPATH", (reqid, path) => {
    const p = abs(path);
    sftp.name(reqid, [{ filename: p, longname: p, attrs: {} as never }]);
  });
  sftp.on("close", () => {
    for (const fh of fhs.values()) void fh.close().catch(() => undefined);
    fhs.clear();
  });
}

function serveExec(conn: Connection, opts: TestServerOptions, stats: TestServerStats, user: string): void {
  conn.on("session", (acceptSession) => {
    const session = acceptSession();
    let child: ChildProcess | undefined;
    session.on("signal", (accept, _reject, info) => {
      stats.signals.push(info.name);
      if (child?.pid) {
        try {
          process.kill(-child.pid, `SIG${info.name}` as NodeJS.Signals);
        } catch {
          // already gone
        }
      }
      accept?.();
    });
    session.on("exec", (accept, _reject, info) => {
      const stream = accept();
      stats.execs.push(info.command);
      const c = spawn("/bin/sh", ["-c", info.command], {
        cwd: opts.cwd,
        env: { ...process.env, HOME: opts.cwd, USER: user, ...opts.env, ...opts.users[user]?.env },
        stdio: ["pipe", "pipe", "pipe"],
        detached: true, // own process group, so a signal reaches the whole command
      });
      child = c;
      c.stdin.on("error", () => undefined);
      stream.pipe(c.stdin);
      c.stdout.pipe(stream, { end: false });
      c.stderr.pipe(stream.stderr, { end: false });
      c.on("close", (code, signal) => {
        try {
          if (code !== null) stream.exit(code);
          else stream.exit((signal ?? "KILL").replace(/^SIG/, ""), false, "");
          stream.end();
        } catch {
          // channel already closed by the client
        }
      });
      stream.on("close", () => {
        if (c.exitCode === null && c.signalCode === null && c.pid) {
          try {
            process.kill(-c.pid, "SIGKILL");
          } catch {
            // gone
          }
        }
      });
    });
    session.on("sftp", (accept) => {
      stats.sftpSessions++;
      serveSftp(accept(), opts.cwd, stats.sftpOps);
    });
  });
}

export async function startServer(opts: TestServerOptions): Promise<TestServer> {
  const hostKey = opts.hostKey ?? generateKey().private;
  const parsedHostKey = utils.parseKey(hostKey) as ParsedKey;
  const stats: TestServerStats = { connections: 0, authAttempts: 0, authFailures: 0, execs: [], signals: [], forwards: [], sftpSessions: 0, sftpOps: [] };
  const conns = new Set<Connection>();
  // ssh2's server drops channel requests that arrive after exec started (it hands them to no one), so
  // signals are observed through its protocol debug output; the process group is still killed when the
  // client closes the channel.
  const debug = (msg: string) => {
    const m = /Inbound: CHANNEL_REQUEST \(r:\d+, signal: (\w+)\)/.exec(msg);
    if (m?.[1]) stats.signals.push(m[1]);
  };
  const server = new Server({ hostKeys: [hostKey], debug }, (conn) => {
    stats.connections++;
    conns.add(conn);
    conn.on("close", () => conns.delete(conn));
    conn.on("error", () => undefined);
    let user = "";
    conn.on("authentication", (ctx) => {
      user = ctx.username;
      if (ctx.method !== "none") stats.authAttempts++;
      const u = opts.users[ctx.username];
      const reject = () => {
        if (ctx.method !== "none") stats.authFailures++;
        ctx.reject(["publickey", "password"]);
      };
      if (!u) return reject();
      if (ctx.method === "password") {
        return u.password !== undefined && ctx.password === u.password ? ctx.accept() : reject();
      }
      if (ctx.method === "publickey" && u.publicKey) {
        const allowed = utils.parseKey(u.publicKey) as ParsedKey;
        if (!ctx.key.data.equals(allowed.getPublicSSH())) return reject();
        if (!ctx.signature) return ctx.accept(); // "would this key do?" query
        // ctx.blob and ctx.hashAlgo are present when a signature is.
        const c = ctx as typeof ctx & { blob: Buffer; hashAlgo?: string };
        return allowed.verify(c.blob, ctx.signature, c.hashAlgo) === true ? ctx.accept() : reject();
      }
      reject();
    });
    conn.on("ready", () => serveExec(conn, opts, stats, user));
    conn.on("tcpip", (accept, reject, info) => {
      stats.forwards.push(`${info.destIP}:${info.destPort}`);
      if (!opts.allowForwarding) return reject();
      const sock = net.connect({ host: info.destIP, port: info.destPort, noDelay: true });
      sock.once("error", () => reject());
      sock.once("connect", () => {
        sock.removeAllListeners("error");
        sock.on("error", () => undefined);
        const ch = accept();
        ch.on("error", () => undefined);
        ch.pipe(sock).pipe(ch);
      });
    });
  });
  // Our own listener so the server side has TCP_NODELAY too (else each exec waits on delayed ACKs).
  const socks = new Set<net.Socket>();
  const tcp = net.createServer({ noDelay: true }, (sock) => {
    socks.add(sock);
    sock.on("close", () => socks.delete(sock));
    server.injectSocket(sock);
  });
  await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  const port = (tcp.address() as net.AddressInfo).port;
  const blob = parsedHostKey.getPublicSSH();
  return {
    host: "127.0.0.1",
    port,
    hostKeyBlob: blob,
    hostKeyLine: `${parsedHostKey.type} ${blob.toString("base64")}`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of conns) c.end();
        tcp.close(() => resolve());
      }),
    drop: (how) => {
      for (const s of socks) {
        if (how === "reset") s.resetAndDestroy();
        else s.destroy();
      }
    },
  };
}

/** A fake sudo for the server's child shells: checks a password read from stdin (never from argv). */
export const FAKE_SUDO = `#!/bin/sh
# Fake sudo for tests. FAKE_SUDO_PASSWORD empty: passwordless (NOPASSWD). Records how it was called.
S=0; N=0
while [ $# -gt 0 ]; do
  case "$1" in
    -S) S=1 ;;
    -n) N=1 ;;
    -k) ;;
    -p) shift ;;
    --) shift; break ;;
    -*) echo "sudo: unknown option $1" >&2; exit 1 ;;
    *) break ;;
  esac
  shift
done
[ -n "$FAKE_SUDO_LOG" ] && echo "S=$S N=$N argc=$#" >> "$FAKE_SUDO_LOG"
if [ -n "$FAKE_SUDO_PASSWORD" ]; then
  if [ "$N" = 1 ]; then echo "sudo: a password is required" >&2; exit 1; fi
  if [ "$S" = 0 ]; then echo "sudo: a terminal is required to read the password" >&2; exit 1; fi
  tries=0; ok=0
  while [ "$tries" -lt 3 ]; do
    IFS= read -r pw || break
    if [ "$pw" = "$FAKE_SUDO_PASSWORD" ]; then ok=1; break; fi
    echo "Sorry, try again." >&2
    tries=$((tries + 1))
  done
  if [ "$ok" != 1 ]; then echo "sudo: $tries incorrect password attempts" >&2; exit 1; fi
fi
export FAKE_SUDO=1
exec "$@"
`;
