/**
 * tcpdump on a node's underlay interface, over the tool's SSH: started detached, awaited until it
 * listens, stopped after the exchange and read back as a pcap. Readiness and completion are
 * observed (tcpdump's "listening on", its exit), never assumed from a sleep.
 */
import * as fs from "fs";
import type { Inventory, InventoryNode } from "../inventory/inventory";
import { connect, type SshSession } from "../transport/ssh";
import { shellQuote } from "../transport/shell";

/** tcpdump stops by itself after this, should the tool die mid-capture. */
const CAPTURE_LIMIT_S = 300;
/** tcpdump opens its socket in well under a second; 30 s means it cannot. */
const LISTEN_TIMEOUT_S = 30;
/** The end marker reaches the file within milliseconds; 30 s means the capture is broken. */
const END_TIMEOUT_S = 30;
/** Reading the capture back (at most MAX_PCAP_BYTES, base64) over SSH: a second; a minute means the node hangs. */
const READ_BACK_TIMEOUT_MS = 60_000;
/** Bytes of the capture read back at most; a probe's exchange is a few KB. */
const MAX_PCAP_BYTES = 8 * 1024 * 1024;

export interface NodeSessions {
  /** The open session to a node; throws when the node could not be reached. */
  get(name: string): SshSession;
  values(): SshSession[];
}

export async function openNodeSessions(inv: Inventory, identity?: string): Promise<NodeSessions> {
  const open = new Map<string, SshSession>();
  const failed = new Map<string, string>();
  await Promise.all(
    inv.nodes.map(async (n) => {
      const keyFile = identity ?? n.privateKeyPath;
      try {
        if (!keyFile) throw new Error("no private key (give --identity KEY or privateKeyPath in the inventory)");
        open.set(n.name, await connect(n, fs.readFileSync(keyFile, "utf8")));
      } catch (err) {
        failed.set(n.name, (err as Error).message);
      }
    }),
  );
  return {
    get(name) {
      const s = open.get(name);
      if (!s) throw new Error(`cannot reach ${name}: ${failed.get(name) ?? "not in the inventory"}`);
      return s;
    },
    values: () => [...open.values()],
  };
}

/**
 * Captures everything between `node` and `peer` on the interface holding node's advertise address
 * while `exchange` runs; returns the pcap. A missing tcpdump is reported as "UNPROVABLE: …".
 */
export async function underlayCapture(
  s: SshSession,
  node: InventoryNode,
  peer: string,
  exchange: () => Promise<void>,
): Promise<Buffer> {
  const f = `/tmp/hcloud-swarm-wire-${process.pid}-${Date.now()}`;
  const addr = node.advertiseAddress;
  const pre = await s.run(
    `command -v tcpdump >/dev/null || { echo no-tcpdump; exit 0; }; ip -o -4 addr show | awk -v a=${shellQuote(addr)} '{split($4,p,"/"); if (p[1]==a) {print $2; exit}}'`,
  );
  if (pre.stdout.includes("no-tcpdump"))
    throw new Error(
      `UNPROVABLE: tcpdump is not installed on ${node.name}; install it (apt-get install tcpdump) to see the wire`,
    );
  const iface = pre.stdout.trim();
  if (!iface) throw new Error(`no interface of ${node.name} holds its advertise address ${addr}`);
  const dump = `echo $$ > ${f}.pid; exec timeout ${CAPTURE_LIMIT_S} tcpdump -i ${shellQuote(iface)} -n -U -s 0 -w ${f}.pcap host ${shellQuote(peer)} 2>${f}.err`;
  await s.run(
    `setsid -f sh -c ${shellQuote(dump)} </dev/null >/dev/null 2>&1; i=0; until grep -q 'listening on' ${f}.err 2>/dev/null; do i=$((i+1)); [ $i -le ${LISTEN_TIMEOUT_S * 10} ] || { cat ${f}.err >&2; exit 1; }; sleep 0.1; done`,
    {
      timeoutMs: (LISTEN_TIMEOUT_S + 10) * 1000,
    },
  );
  try {
    await exchange();
    // tcpdump drops what it has not read yet when it is stopped: send an end marker after the
    // exchange and stop only once the file holds it, so every packet before it is in the file too.
    const end = `hswire-end-${process.pid}-${Date.now()}`;
    const seen = await s.run(
      `bash -c ${shellQuote(`printf %s ${end} > /dev/udp/${peer}/9`)} 2>/dev/null; i=0; until grep -aq ${end} ${f}.pcap; do i=$((i+1)); [ $i -le ${END_TIMEOUT_S * 10} ] || exit 1; sleep 0.1; done`,
      { allowFailure: true, timeoutMs: (END_TIMEOUT_S + 10) * 1000 },
    );
    if (seen.code !== 0)
      throw new Error(
        `the capture on ${node.name} never recorded its end marker (sent to ${peer} after the exchange), so it may be incomplete`,
      );
  } finally {
    // SIGINT makes tcpdump flush and close the file; wait until it has exited before reading.
    await s.run(
      `p=$(cat ${f}.pid 2>/dev/null) && kill -INT "$p" 2>/dev/null; i=0; while [ -n "$p" ] && kill -0 "$p" 2>/dev/null && [ $i -lt 100 ]; do i=$((i+1)); sleep 0.1; done; true`,
      { allowFailure: true },
    );
  }
  const r = await s.run(`head -c ${MAX_PCAP_BYTES} ${f}.pcap | base64 -w0; rm -f ${f}.pcap ${f}.err ${f}.pid`, {
    timeoutMs: READ_BACK_TIMEOUT_MS,
  });
  return Buffer.from(r.stdout.trim(), "base64");
}
