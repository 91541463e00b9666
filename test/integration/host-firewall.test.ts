/**
 * The nodes' host firewall on the namespace bed, for real: an intruder on the bed's own bridge (a
 * foreign server on the same private network, which Hetzner's cloud firewall would not filter) is
 * refused on every swarm port of every node while the members form, scale up and down and carry
 * overlay traffic; the rules survive a dockerd restart; a node that left is refused; containers get
 * no metadata and reach no node's swarm ports; the private interface admits members only (sshd and
 * published ports); verify names a node whose jump or saved list was tampered with, and the next
 * bootstrap restores it; and the join token is on no process's command line during a join.
 */
import * as fs from "fs";
import { allowListHash, FORWARD_CHAIN, HOST_CHAIN, LABEL_FIREWALL } from "../../hostfw/rules";
import { FIREWALL_STATE_FILE } from "../../hostfw/script";
import { loadInventory } from "../../inventory/inventory";
import { verifyCluster } from "../../verify/collect";
import { LOCAL_IMAGE, useBedFixture } from "../support/bed-fixture";
import { actionsOf, expectSuccess, joinTokens, members, runCli, withNodes, writeInventory } from "./bootstrap-helpers";
import { containerProber, probe, Prober, REFUSED, tcpFrom } from "./guard-probes";
import { applyFirewall } from "../../bootstrap/allow-list";
import { connect } from "../../transport/ssh";
import { shellQuote } from "../../transport/shell";
import { pingUntilReplyScript } from "../../demo/leak-probe";

const bed = useBedFixture({ name: "guard-firewall", nodes: 3, managers: 1 });
const USERDATA = "ssh_keys: {ed25519_private: 'metadata-marker-7f3a'}";
const ipOf = (n: string) => bed().node(n).advertiseAddress;

/** The allow-list a node's firewall enforces, read from its own iptables (no bootstrap code involved). */
async function allowed(node: string, family: 4 | 6 = 4): Promise<string[]> {
  const r = await bed().exec(node, `${family === 4 ? "iptables" : "ip6tables"} -S ${HOST_CHAIN}`);
  if (r.code !== 0) throw new Error(`no ${HOST_CHAIN} chain on ${node}: ${r.stderr}`);
  return [...r.stdout.matchAll(/-s (\S+)\/(32|128) -j RETURN/g)].map((m) => m[1]).sort();
}

/**
 * HTTP GET of the metadata stand-in, from the node itself or from a container on it. Throws unless
 * the probe really ran there (its marker printed): a container that never started must not read as
 * "the metadata service is unreachable".
 */
async function metadataFrom(node: string, where: "node" | "container"): Promise<string> {
  const get = `echo probe-ran; printf 'GET /hetzner/v1/userdata HTTP/1.0\\r\\n\\r\\n' | nc -w 3 169.254.169.254 80`;
  const nodeGet = get.replace("| nc ", "| /bin/busybox nc ");
  const cmd = where === "node" ? nodeGet : `docker run --rm ${LOCAL_IMAGE} sh -c ${JSON.stringify(get)}`;
  const r = await bed().exec(node, cmd);
  if (!r.stdout.startsWith("probe-ran"))
    throw new Error(`the metadata probe did not run in a ${where} on ${node}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

interface OverlayPing {
  readonly from: string;
  readonly to: string;
  readonly reply: boolean;
  /** What the pinging container printed and, without a reply, the sender's view of the overlay's peers. */
  readonly detail: string;
}

/** A ping between containers on two nodes over a plain overlay: only answered if the members accept each other. */
async function overlayPing(a: string, b: string): Promise<OverlayPing> {
  await bed().exec(
    "manager-1",
    "docker network inspect guard_plain >/dev/null 2>&1 || docker network create --driver overlay --attachable guard_plain",
  );
  await bed().exec(
    b,
    `docker rm -f guard-target >/dev/null 2>&1; docker run -d --name guard-target --network guard_plain ${LOCAL_IMAGE} sleep 300`,
  );
  try {
    const ip = (
      await bed().exec(
        b,
        "docker inspect -f '{{(index .NetworkSettings.Networks \"guard_plain\").IPAddress}}' guard-target",
      )
    ).stdout.trim();
    const r = await bed().exec(
      a,
      `docker run --rm --network guard_plain ${LOCAL_IMAGE} sh -c ${shellQuote(pingUntilReplyScript(ip))}`,
    );
    let detail = r.stdout.trim() + r.stderr.trim();
    if (r.code !== 0)
      detail += `\n${a}'s view of guard_plain:\n${(await bed().exec(a, "docker network inspect -v guard_plain")).stdout}`;
    process.stderr.write(`overlay ping ${a} -> ${b}: ${r.stdout.trim()}\n`);
    return { from: a, to: b, reply: r.code === 0, detail };
  } finally {
    await bed().exec(b, "docker rm -f guard-target >/dev/null 2>&1");
  }
}

/** Collects every command line and environment of a node's processes while `during` runs. */
async function watchProcesses(node: string, during: () => Promise<void>): Promise<string[]> {
  const seen = new Set<string>();
  let done = false;
  const watcher = (async () => {
    while (!done) {
      for (const pid of bed().processes(node).all) {
        for (const f of ["cmdline", "environ"]) {
          try {
            seen.add(fs.readFileSync(`/proc/${pid}/${f}`, "utf8").split("\0").join(" "));
          } catch {
            // The process ended between listing and reading.
          }
        }
      }
      await new Promise((r) => setImmediate(r));
    }
  })();
  try {
    await during();
  } finally {
    done = true;
    await watcher;
  }
  return [...seen];
}

describe("host firewall on every node", () => {
  let intruder: Prober;
  beforeAll(async () => {
    intruder = await bed().intruder();
    await bed().metadata(USERDATA);
  });

  it("before any firewall, the intruder reaches every node's stack, and containers reach the metadata service (the probes can see it)", async () => {
    expect(await probe(bed(), intruder, "manager-1")).toEqual({
      tcp: { "2377": "closed", "7946": "closed" },
      udp: { "7946": true, "4789": true },
      esp: true,
    });
    expect(await metadataFrom("worker-1", "container")).toContain("metadata-marker-7f3a");
  });

  it("bootstrap installs the rules on every node: exactly the members' addresses, IPv4 and IPv6, and the intruder is refused everywhere", async () => {
    const run = await runCli(bed().inventoryPath);
    expectSuccess(run);
    expect(actionsOf(run)).toEqual(
      expect.arrayContaining(["manager-1 firewall", "worker-1 firewall", "worker-2 firewall"]),
    );
    const all = ["manager-1", "worker-1", "worker-2"].map(ipOf).sort();
    for (const n of ["manager-1", "worker-1", "worker-2"]) {
      expect({ n, v4: await allowed(n), v6: await allowed(n, 6) }).toEqual({ n, v4: all, v6: [] });
      expect({ n, probe: await probe(bed(), intruder, n) }).toEqual({ n, probe: REFUSED });
    }
    for (const m of await members(bed(), "manager-1")) expect(m.labels[LABEL_FIREWALL]).toBe(allowListHash(all));
  });

  it("members still carry overlay traffic between each other", async () => {
    expect(await overlayPing("worker-1", "worker-2")).toMatchObject({ reply: true });
    expect(await overlayPing("manager-1", "worker-1")).toMatchObject({ reply: true });
  });

  it("containers no longer reach the metadata service; the node itself still does", async () => {
    expect(await metadataFrom("worker-1", "node")).toContain("metadata-marker-7f3a");
    expect(await metadataFrom("worker-1", "container")).not.toContain("metadata-marker-7f3a");
    expect(await metadataFrom("manager-1", "container")).not.toContain("metadata-marker-7f3a");
  });

  it("a second run checks every member's live rules (one connection and one firewall command each) and, all in step, reports no action", async () => {
    const lines: string[] = [];
    const run = await runCli(bed().inventoryPath, (l) => lines.push(l));
    expect(expectSuccess(run).actions).toEqual([]);
    expect(run.ssh.connections).toBe(3);
    expect(lines.filter((l) => /\$ sh -s -- '?set'? /.test(l)).length).toBe(3);
  });

  it("adding a worker: every member accepts it before it joins, the intruder stays out, and the join token is on no command line", async () => {
    await bed().addNode("worker");
    const [token] = await joinTokens(bed(), "manager-1");
    // Control: the watcher does see a short-lived process that carries the token on its command line.
    const control = await watchProcesses("worker-3", async () => {
      await bed().exec("worker-3", `sh -c 'sleep 0.3' join-control ${token}`);
    });
    expect(control.some((l) => l.includes(token))).toBe(true);
    let run: Awaited<ReturnType<typeof runCli>> | undefined;
    const seen = await watchProcesses("worker-3", async () => {
      run = await runCli(bed().inventoryPath);
    });
    expectSuccess(run as NonNullable<typeof run>);
    expect(seen.some((l) => l.includes("/swarm/join"))).toBe(true);
    expect(seen.filter((l) => l.includes(token))).toEqual([]);
    expect(seen.filter((l) => l.includes("SWMTKN"))).toEqual([]);
    const actions = actionsOf(run as NonNullable<typeof run>);
    expect(actions).toEqual(
      expect.arrayContaining([
        "worker-3 join",
        "manager-1 firewall",
        "worker-1 firewall",
        "worker-2 firewall",
        "worker-3 firewall",
      ]),
    );
    process.stderr.write(
      `adding worker-3 to 1+2: ${run?.ssh.connections} SSH connections, ${run?.ssh.commands} commands\n`,
    );
    const all = ["manager-1", "worker-1", "worker-2", "worker-3"].map(ipOf).sort();
    for (const n of ["manager-1", "worker-1", "worker-2", "worker-3"])
      expect({ n, v4: await allowed(n) }).toEqual({ n, v4: all });
    expect(await probe(bed(), intruder, "worker-3")).toEqual(REFUSED);
    expect(await overlayPing("worker-3", "worker-1")).toMatchObject({ reply: true });
  });

  it("the rules survive a dockerd restart on a node", async () => {
    const before = (
      await bed().exec("worker-1", `iptables -S ${HOST_CHAIN}; iptables -S INPUT; iptables -S DOCKER-USER`)
    ).stdout;
    await bed().stopDocker("worker-1");
    await bed().startDocker("worker-1");
    const after = await bed().exec(
      "worker-1",
      `iptables -S ${HOST_CHAIN}; iptables -S DOCKER-USER; iptables -S ${FORWARD_CHAIN}`,
    );
    expect(after.stdout).toContain(
      before
        .split("\n")
        .filter((l) => l.startsWith(`-A ${HOST_CHAIN}`))
        .join("\n"),
    );
    expect(after.stdout).toMatch(new RegExp(`^-N DOCKER-USER\n-A DOCKER-USER -j ${FORWARD_CHAIN}$`, "m"));
    expect(after.stdout).toMatch(
      new RegExp(`^-N ${FORWARD_CHAIN}\n-A ${FORWARD_CHAIN} -d 169\\.254\\.169\\.254/32 -j DROP$`, "m"),
    );
    expect((await bed().exec("worker-1", "iptables -S INPUT")).stdout).toContain(`-A INPUT -j ${HOST_CHAIN}`);
    expect(await probe(bed(), intruder, "worker-1")).toEqual(REFUSED);
    expect(await metadataFrom("worker-1", "container")).not.toContain("metadata-marker-7f3a");
  });

  it("a worker that left is refused by every remaining member", async () => {
    const file = writeInventory(
      bed(),
      withNodes(bed(), (ns) => ns.filter((n) => n.name !== "worker-2")),
      "without-worker-2",
    );
    const run = await runCli(file);
    expectSuccess(run);
    expect(actionsOf(run)).toEqual(
      expect.arrayContaining(["worker-2 remove", "manager-1 firewall", "worker-1 firewall", "worker-3 firewall"]),
    );
    const rest = ["manager-1", "worker-1", "worker-3"].map(ipOf).sort();
    for (const n of ["manager-1", "worker-1", "worker-3"]) expect({ n, v4: await allowed(n) }).toEqual({ n, v4: rest });
    const leftNode: Prober = { ip: ipOf("worker-2"), exec: (s) => bed().exec("worker-2", s) };
    expect(await probe(bed(), leftNode, "manager-1")).toEqual(REFUSED);
    expect(await probe(bed(), leftNode, "worker-1")).toEqual(REFUSED);
    expect(await overlayPing("worker-3", "worker-1")).toMatchObject({ reply: true });
  });

  it("runs that overlap on one node (pulumi up admits joiners in parallel) lose none of each other's addresses", async () => {
    const before = await allowed("manager-1");
    const key = fs.readFileSync(bed().privateKeyPath, "utf8");
    const sessions = await Promise.all(Array.from({ length: 6 }, () => connect(bed().node("manager-1"), key)));
    // Documentation addresses (TEST-NET-1): rules only, nothing is ever sent to them.
    const extra = sessions.map((_, i) => `192.0.2.${i + 1}`);
    try {
      await Promise.all(sessions.map((s, i) => applyFirewall(s, "add", [extra[i]])));
      expect(await allowed("manager-1")).toEqual([...before, ...extra].sort());
    } finally {
      await applyFirewall(sessions[0], "set", before);
      for (const s of sessions) s.close();
    }
    expect(await allowed("manager-1")).toEqual(before);
  });

  it("one check-and-repair puts back a jump pushed down by a hostile ACCEPT, drops a second jump, restores the container jump, and says so; the next finds nothing", async () => {
    const before = await allowed("manager-1");
    const key = fs.readFileSync(bed().privateKeyPath, "utf8");
    const s = await connect(bed().node("manager-1"), key);
    const jump = `-A INPUT -j ${HOST_CHAIN}`;
    try {
      // The single-read fast path must not take any of these for "in place".
      await bed().exec(
        "manager-1",
        `iptables -I INPUT 1 -p tcp --dport 7946 -j ACCEPT && iptables ${jump} && iptables -D DOCKER-USER -j ${FORWARD_CHAIN}`,
      );
      // The harm is real: the ACCEPT above the jump lets the intruder reach a swarm port.
      expect((await probe(bed(), intruder, "manager-1")).tcp["7946"]).toBe("open");
      const r = await applyFirewall(s, "add", before);
      expect(r.after).toEqual(expect.arrayContaining(before));
      expect(r.changes.join(" ")).toMatch(/rebuilt the live rules/);
      const input = (await bed().exec("manager-1", "iptables -S INPUT")).stdout.trim().split("\n");
      expect(input[1]).toBe(jump);
      expect(input.filter((l) => l === jump)).toHaveLength(1);
      expect((await bed().exec("manager-1", "iptables -S DOCKER-USER")).stdout).toMatch(
        new RegExp(`^-A DOCKER-USER -j ${FORWARD_CHAIN}$`, "m"),
      );
      expect(await probe(bed(), intruder, "manager-1")).toEqual(REFUSED);
      expect((await applyFirewall(s, "add", before)).changes).toEqual([]);
    } finally {
      await bed().exec("manager-1", "iptables -D INPUT -p tcp --dport 7946 -j ACCEPT 2>/dev/null; true");
      s.close();
    }
  });

  it("a container on a member reaches no swarm port of another member; its probes do get through without the container rules", async () => {
    const fromContainer = containerProber(bed(), "worker-1", LOCAL_IMAGE);
    // Control: the container does reach another member (its sshd answers) ...
    expect(await tcpFrom(fromContainer, ipOf("worker-3"), 22)).toBe("open");
    // ... and, with worker-1's container rules gone, it reaches worker-3's swarm ports (masqueraded to a member's address).
    await bed().exec("worker-1", `iptables -D DOCKER-USER -j ${FORWARD_CHAIN}`);
    expect(await probe(bed(), fromContainer, "worker-3")).toEqual({
      tcp: { "2377": "closed", "7946": "open" },
      udp: { "7946": true, "4789": true },
      esp: true,
    });
    // worker-2 left the swarm in an earlier test: the runs from here on use the inventory without it.
    const run = await runCli(
      writeInventory(
        bed(),
        withNodes(bed(), (ns) => ns.filter((n) => n.name !== "worker-2")),
        "without-worker-2",
      ),
    );
    expect(actionsOf(run)).toEqual(["worker-1 firewall"]);
    for (const target of ["worker-3", "manager-1"])
      expect({ target, probe: await probe(bed(), fromContainer, target) }).toEqual({ target, probe: REFUSED });
    expect(await tcpFrom(fromContainer, ipOf("worker-3"), 22)).toBe("open");
  });

  let privateInventory = "";
  it("the private interface admits members only: a non-member there loses sshd and published ports, members and opened ranges keep them", async () => {
    await bed().exec(
      "worker-1",
      `docker rm -f guard-web >/dev/null 2>&1; docker run -d --name guard-web -p 18080:8080 ${LOCAL_IMAGE} sh -c 'mkdir -p /w && echo web-marker > /w/index.html && exec httpd -f -p 8080 -h /w'`,
    );
    const get = (p: Prober) =>
      p.exec(
        `timeout 4 bash -c 'exec 3<>/dev/tcp/${ipOf("worker-1")}/18080; printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3; cat <&3' 2>&1; true`,
      );
    const member: Prober = { ip: ipOf("manager-1"), exec: (sh) => bed().exec("manager-1", sh) };
    try {
      // Control: before, the intruder on the private network reaches sshd and the published port.
      expect(await tcpFrom(intruder, ipOf("worker-1"), 22)).toBe("open");
      expect((await get(intruder)).stdout).toContain("web-marker");
      const withPrivate = (open: string[]) => ({
        ...withNodes(bed(), (ns) =>
          ns.filter((n) => n.name !== "worker-2").map((n) => ({ ...n, privateAddress: n.advertiseAddress })),
        ),
        firewall: { privateAllowedCidrs: open },
      });
      privateInventory = writeInventory(bed(), withPrivate([`${bed().gateway}/32`]), "private");
      expectSuccess(await runCli(privateInventory));
      for (const n of ["manager-1", "worker-1", "worker-3"])
        expect({ n, sshd: await tcpFrom(intruder, ipOf(n), 22) }).toEqual({ n, sshd: "no answer" });
      expect((await get(intruder)).stdout).not.toContain("web-marker");
      // Members still reach the published port; the opened range (the host: bootstrap's SSH) still reaches sshd.
      expect((await get(member)).stdout).toContain("web-marker");
      expect(expectSuccess(await runCli(privateInventory)).actions).toEqual([]);
      // Opening the intruder's address opens sshd and published ports to it, never the swarm ports.
      const opened = writeInventory(bed(), withPrivate([`${bed().gateway}/32`, `${intruder.ip}/32`]), "private-opened");
      expectSuccess(await runCli(opened));
      expect(await tcpFrom(intruder, ipOf("worker-1"), 22)).toBe("open");
      expect((await get(intruder)).stdout).toContain("web-marker");
      expect(await probe(bed(), intruder, "worker-1")).toEqual(REFUSED);
      expectSuccess(await runCli(privateInventory));
      expect(await tcpFrom(intruder, ipOf("worker-1"), 22)).toBe("no answer");
    } finally {
      await bed().exec("worker-1", "docker rm -f guard-web >/dev/null 2>&1");
    }
  });

  it("verify fails naming the node whose jump was deleted or whose saved list was corrupted; the next bootstrap restores both", async () => {
    expect(privateInventory).not.toBe("");
    const inv = loadInventory(privateInventory);
    const hostChecks = async () => (await verifyCluster(inv)).checks.filter((c) => c.what.startsWith("host: "));
    const failures = (cs: Awaited<ReturnType<typeof hostChecks>>) =>
      cs.filter((c) => c.status === "fail").map((c) => `${c.subject}: ${c.what}`);
    const healthy = await hostChecks();
    expect(failures(healthy)).toEqual([]);
    // What the namespace bed cannot show is said, never passed: no systemd (unit, drop-in), no cloud-init.
    for (const n of ["manager-1", "worker-1", "worker-3"]) {
      const mine = healthy.filter((c) => c.subject === `node ${n}`);
      expect(mine.find((c) => c.what === "host: boot order")).toMatchObject({
        status: "unprovable",
        detail: expect.stringMatching(/no systemd/),
      });
      expect(mine.find((c) => c.what === "host: cloud-init")?.status).toBe("unprovable");
      expect(mine.filter((c) => c.status === "pass").map((c) => c.what)).toEqual(
        expect.arrayContaining([
          "host: IPv4 jump",
          "host: IPv4 allow-list",
          "host: IPv4 container rules",
          "host: IPv4 FORWARD policy",
          "host: IPv4 private interface",
          "host: saved allow-list",
          "host: sshd",
        ]),
      );
    }
    await bed().exec("worker-1", `iptables -D INPUT -j ${HOST_CHAIN}`);
    await bed().exec("worker-3", `echo '10.0.0.0/0 -j ACCEPT' >> ${FIREWALL_STATE_FILE}`);
    // The harm is real: without its jump, worker-1's swarm ports answer the intruder.
    expect((await probe(bed(), intruder, "worker-1")).tcp["7946"]).toBe("open");
    const broken = await hostChecks();
    expect(failures(broken)).toEqual(["node worker-1: host: IPv4 jump", "node worker-3: host: saved allow-list"]);
    for (const c of broken.filter((x) => x.status === "fail")) expect(c.detail).toMatch(/re-run bootstrap/);
    const run = await runCli(privateInventory);
    expect(actionsOf(run).sort()).toEqual(["worker-1 firewall", "worker-3 firewall"]);
    expect(failures(await hostChecks())).toEqual([]);
    expect(await probe(bed(), intruder, "worker-1")).toEqual(REFUSED);
    expect((await bed().exec("worker-3", `cat ${FIREWALL_STATE_FILE}`)).stdout).not.toContain("/0");
  });
});
