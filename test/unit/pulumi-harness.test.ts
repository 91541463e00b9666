/**
 * The unit tests' Pulumi harness (test/support/pulumi.ts): a test that times out must not break
 * the tests after it. A timed-out test leaves its run pending, exactly as the first run below.
 */
import { withFreshSdk } from "../support/pulumi";

test("a run left pending (as by a timed-out test) does not break the runs after it", async () => {
  let entered!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let first: unknown;
  // Never awaited, as jest never awaits a test it gave up on.
  void withFreshSdk(async (pulumi) => {
    first = pulumi;
    entered();
    await gate;
    throw new Error("the abandoned run failed late");
  });
  await inside;

  const second = await withFreshSdk(async (pulumi) => pulumi);
  expect(second === first).toBe(false);
  expect(typeof (second as typeof import("@pulumi/pulumi")).Config).toBe("function");

  // The abandoned run finishes (here: fails) while a third run is open: it must not close the
  // third run's registry, so the third run's later import is still its own fresh copy.
  const third = await withFreshSdk(async (pulumi) => {
    release();
    await gate;
    await new Promise((r) => setImmediate(r));
    const again = await import("@pulumi/pulumi");
    return { pulumi, again };
  });
  expect(third.again === third.pulumi).toBe(true);
  expect(third.pulumi === second).toBe(false);
});
