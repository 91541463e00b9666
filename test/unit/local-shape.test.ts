import { ValidationError } from "../../common/problems";
import { CLEAR, formatShapes, isEmptyRequest, parseShapeArgs, selectNodes } from "../../local/shape";

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
    const problems = problemsOf(() => parseShapeArgs({ loss: "150%", cpu: "500%", direction: "sideways", freeze: true, thaw: true, stallSsh: true, resumeSsh: true, jitter: "3ms" }, 2));
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
    for (const cpu of ["0", "0%", "none; true", "201"]) expect(problemsOf(() => parseShapeArgs({ cpu }, 2))[0]).toContain("--cpu must be a percentage");
    for (const delay of ["1h", "-1ms", "25 ms", "10001ms", "1e3ms"]) expect(problemsOf(() => parseShapeArgs({ delay }, 2))[0]).toContain("--delay must be a duration");
    expect(problemsOf(() => parseShapeArgs({ delay: "5ms", jitter: "6ms" }, 2))).toEqual(["--jitter (6 ms) cannot exceed --delay (5 ms)"]);
    expect(problemsOf(() => parseShapeArgs({ direction: "in" }, 2))).toEqual(["--direction applies to --loss; give --loss too (e.g. --loss 2% --direction in)"]);
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
        { node: "worker-2", lossInPercent: 0, lossOutPercent: 0, frozen: false, sshStalled: false, delayMs: 12.5, jitterMs: 2 },
      ],
      "unavailable: no netem",
    );
    expect(text.split("\n")).toEqual([
      "NODE       LOSS IN  LOSS OUT  CPU            FROZEN  SSH       DELAY",
      "manager-1  2%       0%        20% of a core  no      STALLED   unavailable: no netem",
      "worker-1   0%       0%        uncapped       FROZEN  (frozen)  unavailable: no netem",
      "worker-2   0%       0%        uncapped       no      ok        12.5 ms ± 2 ms",
      "",
    ]);
  });
});
