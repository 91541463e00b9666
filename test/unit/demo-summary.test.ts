/** The demo's closing statement counts a lint that did not refuse the seed post's stack as a failure (the demo exits 1). */
import { summarise, type Observed } from "../../demo/summary";
import { summarise as summariseChecks } from "../../verify/checks";

const observed: Observed = {
  networks: [],
  services: [],
  nodes: [],
  secrets: [],
  secretValues: [],
  mtu: 1500,
  redeployActions: 0,
  lintRefusals: 4,
  lintExitCode: 1,
  verify: summariseChecks([]),
  kernel: [],
  probes: [],
};

test("a refused seed stack is proven; the same findings with `stack lint` exiting 0 or 2 are a failure", () => {
  expect(summarise(observed).broken).toEqual([]);
  expect(summarise(observed).proven).toContainEqual(
    expect.stringMatching(/^lint refused the seed post's original stack with 4 findings/),
  );
  for (const code of [0, 2]) {
    const r = summarise({ ...observed, lintExitCode: code });
    expect(r.broken).toEqual([
      `\`stack lint\` exited ${code} on the seed post's stack with 4 findings; it must refuse it (exit 1)`,
    ]);
    expect(r.proven.some((p) => p.startsWith("lint refused"))).toBe(false);
  }
  expect(summarise({ ...observed, lintRefusals: 0 }).broken).toHaveLength(1);
});
