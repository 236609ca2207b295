#!/usr/bin/env node
// A TCP pass-through that lets a joined control plane "serve" the Kubernetes API: every connection to
// --listen is piped, bytes unchanged (TLS stays end to end), to --target, the API simulator on the first
// lab's one API store (a unix socket in the lab's cluster directory). It plays this host's kube-apiserver:
// started detached by the simulated `kubeadm init` and `kubeadm join --control-plane`, stopped by PID
// (`kubeadm reset`, the host going down). While it runs, this host's etcd member counts as up (etcd.ts).
//   node apiproxy.js --listen 0.0.0.0:6443 --target unix:/var/kubesmith-lab/x/cluster/apiserver.sock
// Prints "listening on HOST:PORT" once on stdout; errors go to stderr. Stops on SIGTERM/SIGINT.
// With --host-dir and --lab-dir it also plays the host's kubelet for the kube-apiserver and etcd static
// pods (static-pods.ts): no listening while kube-apiserver.yaml is away, and the serving certificate's
// expiry on the lab clock (kubeadm-certs.ts), read when the kube-apiserver starts: once expired, every
// TLS handshake through this front fails (clients see an expired-certificate alert), as clients of a
// kube-apiserver serving an expired certificate refuse it ("x509: certificate has expired or is not yet
// valid"); a renewed certificate is used only after the kube-apiserver restarts (kubeadm-certs docs).
import { connect, createServer, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { labNow, readCertsRecord } from "./kubeadm-certs.js";
import { watchStaticPods } from "./static-pods.js";

function hostPort(s: string | undefined, what: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(s ?? "");
  const port = Number(m?.[2]);
  if (!m || !m[1] || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`apiproxy: --${what} needs HOST:PORT, got ${JSON.stringify(s ?? "")}\n`);
    process.exit(2);
  }
  return { host: m[1], port };
}

const { values } = parseArgs({ options: { listen: { type: "string" }, target: { type: "string" }, "host-dir": { type: "string" }, "lab-dir": { type: "string" } }, strict: true });
const labDir = values["lab-dir"];
/** The serving certificate's notAfter (ms) as the running kube-apiserver loaded it; undefined: not modelled. */
let servingUntil: number | undefined;
const loadServingCert = (): void => {
  const d = readCertsRecord()?.certs["apiserver"];
  servingUntil = d ? Date.parse(d.notAfter) : undefined;
};
// TLS alert record: fatal (2), certificate_expired (45) (RFC 8446 §6)
const EXPIRED_ALERT = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x2d]);
const listen = hostPort(values.listen, "listen");
const unixTarget = values.target?.startsWith("unix:") ? values.target.slice(5) : undefined;
const target = unixTarget ? { host: "", port: 0 } : hostPort(values.target, "target");
const open = new Set<Socket>();

const server = createServer({ noDelay: true }, (client) => {
  if (labDir && servingUntil !== undefined && labNow(labDir) > servingUntil) {
    client.once("data", () => client.end(EXPIRED_ALERT));
    client.on("error", () => client.destroy());
    return;
  }
  const upstream = unixTarget ? connect({ path: unixTarget }) : connect({ host: target.host, port: target.port, noDelay: true });
  open.add(client);
  open.add(upstream);
  const done = (): void => {
    client.destroy();
    upstream.destroy();
    open.delete(client);
    open.delete(upstream);
  };
  client.on("error", done).on("close", done);
  upstream.on("error", done).on("close", done);
  client.pipe(upstream);
  upstream.pipe(client);
});
let relisten = false;
server.on("error", (e: NodeJS.ErrnoException) => {
  if (relisten) return; // a restart's listen, retried below
  process.stderr.write(`apiproxy: cannot listen on ${listen.host}:${listen.port}: ${e.code === "EADDRINUSE" ? "address already in use" : e.message}\n`);
  process.exit(1);
});
server.listen(listen.port, listen.host, () => {
  process.stdout.write(`listening on ${listen.host}:${listen.port}\n`);
});
if (values["host-dir"] && labDir) {
  loadServingCert();
  watchStaticPods({
    hostDir: values["host-dir"],
    labDir,
    log: (s) => process.stderr.write(`${s}\n`),
    onApiserver: (running) => {
      if (!running) {
        server.close();
        for (const s of open) s.destroy();
        return;
      }
      loadServingCert();
      relisten = true;
      const again = (tries: number): void => {
        const onErr = (): void => void (tries > 0 ? setTimeout(() => again(tries - 1), 100) : process.exit(1));
        server.once("error", onErr);
        server.listen(listen.port, listen.host, () => server.off("error", onErr));
      };
      again(50);
    },
  });
}
const stop = (): void => {
  server.close();
  for (const s of open) s.destroy();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
