import { ValidationError } from "../../common/problems";
import {
  CLEAR,
  formatDelays,
  formatShapes,
  isEmptyRequest,
  parseShapeArgs,
  selectNodes,
} from "../../local/common/shape-request";
import { delayScript, parseDelays } from "../../local/vm/shape";
import { locationRequests } from "../../local/vm/locations";

function problemsOf(f: () => unknown): string[] {
  try {
    f();
  } catch (err) {
    if (err instanceof ValidationError) return [...err.problems];
    throw err;
  }
  throw new Error("expected a ValidationError");
}

describe("local shape options", () => {
  it("names only what changes: loss in both directions by default, a CPU cap, freeze, stalled sshd", () => {
    expect(parseShapeArgs({ loss: "2%" }, 2)).toEqual({ lossPercent: 2, lossDirection: "both" });
    expect(parseShapeArgs({ loss: "1.5", direction: "in" }, 2)).toEqual({ lossPercent: 1.5, lossDirection: "in" });
    expect(parseShapeArgs({ cpu: "20%" }, 2)).toEqual({ cpuPercent: 20 });
    expect(parseShapeArgs({ cpu: "none" }, 2)).toEqual({ cpuPercent: null });
    expect(parseShapeArgs({ freeze: true, stallSsh: true }, 2)).toEqual({ frozen: true, sshStalled: true });
    expect(parseShapeArgs({ thaw: true, resumeSsh: true }, 2)).toEqual({ frozen: false, sshStalled: false });
    expect(parseShapeArgs({ delay: "25ms", jitter: "5ms" }, 2)).toEqual({ delayMs: 25, jitterMs: 5 });
    expect(parseShapeArgs({ delay: "0.2ms" }, 2)).toEqual({ delayMs: 0.2, jitterMs: 0 });
  });

  it("--clear lifts everything, and later options still apply on top", () => {
    expect(parseShapeArgs({ clear: true }, 2)).toEqual(CLEAR);
    expect(parseShapeArgs({ clear: true, loss: "1%" }, 2)).toEqual({ ...CLEAR, lossPercent: 1, lossDirection: "both" });
    expect(isEmptyRequest(parseShapeArgs({}, 2))).toBe(true);
    expect(isEmptyRequest(parseShapeArgs({ freeze: true }, 2))).toBe(false);
  });

  it("reports every bad option at once, each naming the flag and an example", () => {
    const problems = problemsOf(() =>
      parseShapeArgs(
        {
          loss: "150%",
          cpu: "500%",
          direction: "sideways",
          freeze: true,
          thaw: true,
          stallSsh: true,
          resumeSsh: true,
          jitter: "3ms",
        },
        2,
      ),
    );
    expect(problems).toEqual([
      "--freeze and --thaw contradict each other; give one",
      "--stall-ssh and --resume-ssh contradict each other; give one",
      `--direction must be in, out or both, got "sideways"`,
      "--jitter applies to --delay; give --delay too (e.g. --delay 25ms --jitter 5ms)",
      `--loss must be a percentage from 0 to 100 (e.g. --loss 2%), got "150%"`,
      `--cpu must be a percentage from 1 to 200 (e.g. --cpu 20%), got "500%"`,
    ]);
  });

  it("refuses hostile values that a lax number parser would accept", () => {
    // Number("1e2") is 100, Number("") is 0, Number("0x10") is 16, parseFloat("2%; rm -rf /") is 2.
    for (const loss of ["1e2", "", "0x10", "-5", "NaN", "Infinity", "2%; rm -rf /", "50%%", " 2 % ", "2,5"]) {
      expect(problemsOf(() => parseShapeArgs({ loss }, 2))[0]).toContain("--loss must be a percentage");
    }
    for (const cpu of ["0", "0%", "none; true", "201"])
      expect(problemsOf(() => parseShapeArgs({ cpu }, 2))[0]).toContain("--cpu must be a percentage");
    for (const delay of ["1h", "-1ms", "25 ms", "10001ms", "1e3ms"])
      expect(problemsOf(() => parseShapeArgs({ delay }, 2))[0]).toContain("--delay must be a duration");
    expect(problemsOf(() => parseShapeArgs({ delay: "5ms", jitter: "6ms" }, 2))).toEqual([
      "--jitter (6 ms) cannot exceed --delay (5 ms)",
    ]);
    expect(problemsOf(() => parseShapeArgs({ direction: "in" }, 2))).toEqual([
      "--direction applies to --loss; give --loss too (e.g. --loss 2% --direction in)",
    ]);
  });
});

describe("local shape node selection and table", () => {
  const nodes = [{ name: "manager-1" }, { name: "worker-1" }, { name: "worker-2" }];

  it("selects named nodes in bed order, or all of them", () => {
    expect(selectNodes(nodes, ["worker-2", "manager-1"]).map((n) => n.name)).toEqual(["manager-1", "worker-2"]);
    expect(selectNodes(nodes, ["all"])).toEqual(nodes);
  });

  it("reports every unknown node at once, listing the real ones", () => {
    expect(problemsOf(() => selectNodes(nodes, ["worker-9", "../manager-1", "worker-1"]))).toEqual([
      `no node "worker-9" in this bed; nodes: manager-1, worker-1, worker-2 (or all)`,
      `no node "../manager-1" in this bed; nodes: manager-1, worker-1, worker-2 (or all)`,
    ]);
  });

  it("shows what is in force, and says why there is no delay column value on the namespace bed", () => {
    const text = formatShapes(
      [
        { node: "manager-1", lossInPercent: 2, lossOutPercent: 0, cpuPercent: 20, frozen: false, sshStalled: true },
        { node: "worker-1", lossInPercent: 0, lossOutPercent: 0, frozen: true },
        { node: "worker-2", lossInPercent: 0, lossOutPercent: 0, frozen: false, sshStalled: false, delays: [] },
      ],
      "unavailable: no netem",
    );
    expect(text.split("\n")).toEqual([
      "NODE       LOSS IN  LOSS OUT  CPU            FROZEN  SSH       DELAY",
      "manager-1  2%       0%        20% of a core  no      STALLED   unavailable: no netem",
      "worker-1   0%       0%        uncapped       FROZEN  (frozen)  unavailable: no netem",
      "worker-2   0%       0%        uncapped       no      ok        -",
      "",
    ]);
  });
});

describe("latency on the VM bed (pure parts)", () => {
  it("groups peers with the same delay into one netem band each, everything else undelayed", () => {
    const script = delayScript("10.0.0.11", [
      { to: "manager-2", ip: "10.0.0.12", delayMs: 6, jitterMs: 0.6 },
      { to: "worker-2", ip: "10.0.0.22", delayMs: 6, jitterMs: 0.6 },
      { to: "manager-3", ip: "10.0.0.13", delayMs: 12.5, jitterMs: 1.25 },
    ]);
    expect(script).toContain(
      'tc qdisc add dev "$nic" root handle 1: prio bands 16 priomap 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15',
    );
    expect(script).toContain('tc qdisc add dev "$nic" parent 1:1 handle 10: netem delay 6ms 0.6ms');
    expect(script).toContain('tc qdisc add dev "$nic" parent 1:2 handle 11: netem delay 12.5ms 1.25ms');
    expect(script).toContain("iptables -w -t mangle -A HSW-DELAY -d 10.0.0.12/32 -j CLASSIFY --set-class 1:1");
    expect(script).toContain("iptables -w -t mangle -A HSW-DELAY -d 10.0.0.22/32 -j CLASSIFY --set-class 1:1");
    expect(script).toContain("iptables -w -t mangle -A HSW-DELAY -d 10.0.0.13/32 -j CLASSIFY --set-class 1:2");
  });

  it("removes the whole setup when no delay is left, and refuses more distinct delays than prio has bands", () => {
    const none = delayScript("10.0.0.11", []);
    expect(none).toContain('tc qdisc del dev "$nic" root');
    expect(none).not.toContain("netem");
    const many = Array.from({ length: 16 }, (_, i) => ({
      to: `w-${i}`,
      ip: `10.0.1.${i + 1}`,
      delayMs: i + 1,
      jitterMs: 0,
    }));
    expect(() => delayScript("10.0.0.11", many)).toThrow("at most 15 different delays per node, asked for 16");
  });

  it("finds the private NIC by its address, quoting it", () => {
    expect(delayScript("10.0.0.11", [])).toContain(`awk -v ip='10.0.0.11' 'index($4, ip "/") == 1 {print $2; exit}'`);
  });

  it("shows delays grouped by value", () => {
    expect(
      formatDelays([
        { to: "manager-2", delayMs: 6, jitterMs: 0.6 },
        { to: "manager-3", delayMs: 12.5, jitterMs: 1.25 },
        { to: "worker-2", delayMs: 6, jitterMs: 0.6 },
      ]),
    ).toBe("6 ms ± 0.6 ms to manager-2, worker-2; 12.5 ms ± 1.25 ms to manager-3");
    expect(formatDelays([])).toBe("-");
  });

  it("takes --to as a list of node names, and only with --delay", () => {
    expect(parseShapeArgs({ delay: "12ms", to: "manager-3, worker-3" }, 2)).toEqual({
      delayMs: 12,
      jitterMs: 0,
      to: ["manager-3", "worker-3"],
    });
    expect(problemsOf(() => parseShapeArgs({ to: "manager-3" }, 2))).toEqual([
      "--to applies to --delay; give --delay too (e.g. --delay 12ms --to manager-3,worker-3)",
    ]);
    expect(problemsOf(() => parseShapeArgs({ delay: "1ms", to: "manager-3;reboot" }, 2))[0]).toMatch(
      /^--to must list node names/,
    );
  });
});

describe("a VM bed shaped as locations", () => {
  it("gives each node half the round trip towards each location, with a tenth of it as jitter", () => {
    const reqs = locationRequests(
      { nbg1: ["manager-1", "worker-1"], hel1: ["manager-3"] },
      { inside: 0.2, "nbg1-hel1": 25 },
    );
    expect(reqs).toEqual([
      { node: "manager-1", req: { delayMs: 0.1, jitterMs: 0.01, to: ["worker-1"] } },
      { node: "worker-1", req: { delayMs: 0.1, jitterMs: 0.01, to: ["manager-1"] } },
      { node: "manager-1", req: { delayMs: 12.5, jitterMs: 1.25, to: ["manager-3"] } },
      { node: "worker-1", req: { delayMs: 12.5, jitterMs: 1.25, to: ["manager-3"] } },
      { node: "manager-3", req: { delayMs: 12.5, jitterMs: 1.25, to: ["manager-1", "worker-1"] } },
    ]);
  });

  it("names a pair of locations it has no round trip for", () => {
    expect(() => locationRequests({ nbg1: ["a"], ash: ["b"] })).toThrow("no round trip given between nbg1 and ash");
  });
});

describe("reading latency back from a guest", () => {
  // `tc qdisc show` and `iptables -t mangle -S HSW-DELAY` as printed by a Debian 12 VM of the bed.
  const QDISCS = [
    "qdisc noqueue 0: dev lo root refcnt 2 ",
    "qdisc prio 1: dev ens3 root refcnt 2 bands 16 priomap 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15",
    "qdisc netem 10: dev ens3 parent 1:1 limit 1000 delay 12.5ms  1ms",
  ].join("\n");
  const RULES = "-N HSW-DELAY\n-A HSW-DELAY -d 10.0.0.12/32 -j CLASSIFY --set-class 0001:0001\n";

  it("maps each peer to its band's delay and jitter", () => {
    expect(parseDelays(QDISCS, RULES, (ip) => (ip === "10.0.0.12" ? "worker-1" : undefined))).toEqual([
      { to: "worker-1", delayMs: 12.5, jitterMs: 1 },
    ]);
  });

  it("reads tc's own rounding back as what was asked (0.5 ms is printed as 499us; `show dev` omits the device)", () => {
    const q =
      "qdisc prio 1: root refcnt 2 bands 16 priomap 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15\nqdisc netem 10: parent 1:1 limit 1000 delay 3ms  499us";
    expect(parseDelays(q, RULES, () => "worker-1")).toEqual([{ to: "worker-1", delayMs: 3, jitterMs: 0.5 }]);
  });

  it("reads nothing where there is no setup, and keeps an unknown peer's address", () => {
    expect(parseDelays("qdisc fq_codel 0: dev ens3 root refcnt 2 limit 10240p", "", () => undefined)).toEqual([]);
    expect(parseDelays(QDISCS, RULES, () => undefined)).toEqual([{ to: "10.0.0.12", delayMs: 12.5, jitterMs: 1 }]);
  });
});
