/**
 * An active data-plane check for the test bed (it starts containers and adds a counting
 * iptables rule, so it is not part of `verify`, which only reads). A container on node A pings
 * one on node B over an overlay, and A's mangle POSTROUTING counts the VXLAN (udp 4789) packets
 * that actually leave it. On an encrypted overlay without ESP in the kernel the count must stay
 * 0 (fails closed); on a plain overlay it grows, which shows the counter sees VXLAN at all.
 */
import { shellQuote } from "../transport/shell";
import type { SshSession } from "../transport/ssh";
import { sleep } from "../common/time";

const COMMENT = "hsw-vxlan-probe";
/**
 * Pings a fresh container sends, one second apart, until the first reply. Why so many: a node whose
 * first container joins an overlay learns where the other endpoints are by gossip, and until that
 * arrives its ARP goes unanswered; in CI a 3-ping window (about 4 s) closed before a manager had heard
 * of a worker's container. The reply decides, not the clock: a path that is shut (a firewall that
 * drops VXLAN, an encrypted overlay without ESP) never answers, however long the container tries.
 */
export const OVERLAY_PEER_TRIES = 20;
/** Limit for the pinging `docker run`: container start-up on a busy node plus every try. */
const PING_RUN_TIMEOUT_MS = 90_000;

/** Created in the pinging container to end its loop early (a killed container's 137 reads as a timeout over SSH). */
const STOP_FILE = "/tmp/hsw-stop-pinging";

/**
 * A shell script for a container on the overlay: ping `ip` until the first reply, at most
 * OVERLAY_PEER_TRIES times; exits 0 on a reply and prints on which try it came; exits 3 once
 * STOP_FILE exists.
 */
export function pingUntilReplyScript(ip: string): string {
  const target = shellQuote(ip);
  return `i=0; while [ $i -lt ${OVERLAY_PEER_TRIES} ]; do [ -e ${STOP_FILE} ] && { echo "stopped after $i tries"; exit 3; }; i=$((i+1)); if ping -c 1 -W 1 ${target} >/dev/null; then echo "reply on try $i"; exit 0; fi; done; echo "no reply in $i tries"; exit 1`;
}

/** How often the probe reads node A's IPsec drop counters while the container pings. */
const BLOCK_POLL_MS = 250;

/** Sum of node A's outbound IPsec error counters (/proc/net/xfrm_stat): each packet a policy needs ESP for and cannot get. */
async function xfrmOutDrops(a: SshSession): Promise<number> {
  const r = await a.run("cat /proc/net/xfrm_stat 2>/dev/null || true");
  return r.stdout
    .split("\n")
    .filter((l) => l.startsWith("XfrmOut"))
    .reduce((sum, l) => sum + (Number(l.trim().split(/\s+/)[1]) || 0), 0);
}

export interface LeakProbeOptions {
  /**
   * Stop pinging as soon as node A's kernel drops a packet for want of IPsec (an outbound xfrm
   * counter grows): the packet for the peer was built and held back, which is what "fails closed"
   * means, so more tries add nothing. Default false: ping until a reply or OVERLAY_PEER_TRIES.
   */
  readonly stopWhenBlocked?: boolean;
}

export interface LeakProbeResult {
  readonly network: string;
  /** VXLAN packets that left node A during the pings. */
  readonly vxlanPackets: number;
  /** Whether the ping got answers. */
  readonly reached: boolean;
  /** Packets node A's kernel held back for want of IPsec during the pings (xfrm_stat). */
  readonly blockedByIpsec: number;
}

async function counter(a: SshSession): Promise<number> {
  const r = await a.run(`iptables -t mangle -L POSTROUTING -v -x -n | grep ${COMMENT} || true`);
  return Number(r.stdout.trim().split(/\s+/)[0] || 0);
}

/** Pings from a container on `a` to one on `b` over `network` (attachable), counting VXLAN out of `a`. */
export async function probeVxlan(
  a: SshSession,
  b: SshSession,
  network: string,
  image: string,
  opts: LeakProbeOptions = {},
): Promise<LeakProbeResult> {
  const net = shellQuote(network);
  const name = `hsw-probe-${network.replace(/[^a-z0-9]/g, "-")}`;
  await b.run(
    `docker rm -f ${name} >/dev/null 2>&1; docker run -d --name ${name} --network ${net} ${shellQuote(image)} sleep 300 >/dev/null`,
  );
  try {
    const ip = (
      await b.run(
        `docker inspect -f '{{(index .NetworkSettings.Networks ${JSON.stringify(network)}).IPAddress}}' ${name}`,
      )
    ).stdout.trim();
    await a.run(
      `iptables -t mangle -C POSTROUTING -p udp --dport 4789 -m comment --comment ${COMMENT} 2>/dev/null || iptables -t mangle -I POSTROUTING -p udp --dport 4789 -m comment --comment ${COMMENT}`,
    );
    try {
      const before = await counter(a);
      const dropsBefore = await xfrmOutDrops(a);
      const pinger = `${name}-ping`;
      let done = false;
      const pinging = a
        .run(
          `docker rm -f ${pinger} >/dev/null 2>&1; docker run --rm --name ${pinger} --network ${net} ${shellQuote(image)} sh -c ${shellQuote(pingUntilReplyScript(ip))}`,
          { allowFailure: true, timeoutMs: PING_RUN_TIMEOUT_MS },
        )
        .finally(() => (done = true));
      if (opts.stopWhenBlocked) {
        while (!done && (await xfrmOutDrops(a)) === dropsBefore) await sleep(BLOCK_POLL_MS);
        if (!done) await a.run(`docker exec ${pinger} touch ${STOP_FILE}`, { allowFailure: true });
      }
      const ping = await pinging;
      // A reply is only counted from the script itself (exit 0 and its "reply on try" line), never from a stopped container.
      const reached = ping.code === 0 && /^reply on try \d+$/m.test(ping.stdout);
      return {
        network,
        vxlanPackets: (await counter(a)) - before,
        reached,
        blockedByIpsec: (await xfrmOutDrops(a)) - dropsBefore,
      };
    } finally {
      await a.run(`iptables -t mangle -D POSTROUTING -p udp --dport 4789 -m comment --comment ${COMMENT}`, {
        allowFailure: true,
      });
    }
  } finally {
    await b.run(`docker rm -f ${name} >/dev/null 2>&1`, { allowFailure: true });
  }
}
