/**
 * demo:vm's verdict (and so the CI VM journey's) rests on the exit code of the `verify` a user types,
 * not on verify's checks as judged again inside the later --wire run.
 */
import { provenAndBroken } from "../../demo/demo-vm";
import type { VmJourneyResult } from "../../demo/vm-journey";
import { summarise } from "../../verify/checks";

const allProven = summarise([
  { status: "pass", subject: "node manager-1", what: "ESP states", detail: "4 ESP states" },
]);
const journey: VmJourneyResult = {
  inventory: { nodes: [], swarm: { overlayMtu: 1450 } },
  verifyExitCode: 0,
  verify: allProven,
  wire: allProven,
  wireChecks: [],
  endpointModes: [{ name: "traefik_traefik", mode: "vip" }],
  timings: {},
  memory: [],
};

test("a verify that exited 2 (UNPROVABLE) fails the journey although the --wire run's checks all passed", () => {
  expect(provenAndBroken(journey).broken).toEqual([]);
  expect(provenAndBroken(journey).proven).toContainEqual(expect.stringMatching(/^verify: all 1 checks proven/));
  const unprovable = provenAndBroken({ ...journey, verifyExitCode: 2 });
  expect(unprovable.broken).toEqual(["`hcloud-swarm verify` exited 2 (0 = all proven)"]);
  expect(unprovable.proven.some((p) => p.startsWith("verify:"))).toBe(false);
});
