/**
 * Probes for the host-firewall suites, judged by what the nodes' kernels do, never by our own rule
 * counters:
 * - TCP: a connect is answered (open), reset (closed: the packet reached the node) or unanswered;
 * - UDP: a datagram that got through a node's INPUT chain leaves a confirmed conntrack entry there
 *   (conntrack confirms only packets the filter let through), found by its unique source port;
 * - ESP: a packet that got through reaches the protocol handler, which counts it (no ESP in the
 *   kernel: Ip InUnknownProtos; ESP without a state: XfrmInNoStates). Nothing else sends ESP here.
 */
import type { RunResult, BedFixture } from "../support/bed-fixture";

export type TcpVerdict = "open" | "closed" | "no answer";

export interface ProbeResult {
  readonly tcp: Readonly<Record<string, TcpVerdict>>;
  /** UDP port → whether a probe datagram got through the node's INPUT chain. */
  readonly udp: Readonly<Record<string, boolean>>;
  /** Whether probe ESP packets got through to the node's protocol handler. */
  readonly esp: boolean;
}

/** Long enough for a SYN-ACK or RST from a node on a bridge under full load; an answer comes in milliseconds. */
const TCP_WAIT_S = 4;
let nextPort = 41000 + Math.floor(Math.random() * 10000);

async function espCounter(bed: BedFixture, node: string): Promise<number> {
  const r = await bed.exec(
    node,
    "awk '/^Ip: /{if (!h) {for (i=1;i<=NF;i++) if ($i==\"InUnknownProtos\") c=i; h=1} else print $c}' /proc/net/snmp; awk '/XfrmInNoStates/{print $2}' /proc/net/xfrm_stat 2>/dev/null; true",
  );
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .reduce((sum, n) => sum + Number(n), 0);
}

async function conntrack(bed: BedFixture, node: string): Promise<string> {
  return (await bed.exec(node, "cat /proc/net/nf_conntrack")).stdout;
}

/** Runs a script as the prober: the intruder namespace, or a node (a node that left the swarm). */
export type Prober = { readonly ip: string; exec(script: string): Promise<RunResult> };

/** Probes every swarm port of `target` (an inventory node) from `from`. */
export async function probe(bed: BedFixture, from: Prober, target: string): Promise<ProbeResult> {
  const ip = bed.node(target).advertiseAddress;
  const udpPorts = ["7946", "4789"];
  const sports = Object.fromEntries(udpPorts.map((p) => [p, nextPort++]));
  const espBefore = await espCounter(bed, target);
  const send = udpPorts.map(
    (p) =>
      `perl -MIO::Socket::INET -e '$s = IO::Socket::INET->new(Proto => "udp", LocalPort => ${sports[p]}, PeerAddr => "${ip}:${p}") or die "$!"; $s->send("hcloud-swarm probe") for 1..3'`,
  );
  const esp = `perl -MSocket -e 'socket(S, PF_INET, SOCK_RAW, 50) or die "$!"; send(S, "\\x00\\x00\\x10\\x01" . ("\\x00" x 28), 0, sockaddr_in(0, inet_aton("${ip}"))) for 1..3'`;
  const sent = await from.exec([...send, esp].join(" && "));
  if (sent.code !== 0) throw new Error(`probe packets could not be sent from ${from.ip}: ${sent.stderr}`);
  const tcp: Record<string, TcpVerdict> = {};
  for (const port of ["2377", "7946"]) tcp[port] = await tcpFrom(from, ip, Number(port));
  const table = await conntrack(bed, target);
  const udp = Object.fromEntries(
    udpPorts.map((p) => [
      p,
      new RegExp(`src=${from.ip.replace(/\./g, "\\.")} dst=\\S+ sport=${sports[p]} dport=${p}\\b`).test(table),
    ]),
  );
  return { tcp, udp, esp: (await espCounter(bed, target)) > espBefore };
}

/** What an outsider must see on every node: nothing answers and nothing gets through. */
export const REFUSED: ProbeResult = {
  tcp: { "2377": "no answer", "7946": "no answer" },
  udp: { "7946": false, "4789": false },
  esp: false,
};

/**
 * A prober inside a container on `node`: its packets leave through Docker's bridge and FORWARD, and
 * are masqueraded to the node's address, exactly as a hostile task's would. The container borrows
 * the host's /usr (perl, bash, timeout: the bed's nodes share the host's files) and keeps Docker's
 * default capabilities, CAP_NET_RAW included, so it can send raw ESP.
 */
export function containerProber(bed: BedFixture, node: string, image: string): Prober {
  return {
    ip: bed.node(node).advertiseAddress,
    exec: (script) =>
      bed.exec(
        node,
        `docker run --rm -v /usr:/usr:ro -v /usr/lib:/lib:ro -v /lib64:/lib64:ro ${image} /usr/bin/bash -c ${shq(`echo container-ran; ${script}`)}`,
      ),
  };
}

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** TCP connect from a prober to any address and port: open, closed (reset) or no answer. */
export async function tcpFrom(from: Prober, ip: string, port: number): Promise<TcpVerdict> {
  const r = await from.exec(`timeout ${TCP_WAIT_S} bash -c 'exec 3<>/dev/tcp/${ip}/${port}' 2>&1; echo "rc=$?"`);
  return /rc=0\s*$/.test(r.stdout) ? "open" : /refused/i.test(r.stdout) ? "closed" : "no answer";
}
