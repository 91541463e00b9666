import { guestClockRate, MAX_GUEST_CLOCK_RATE } from "../../local/vm/readiness";

describe("a VM's clock is checked against the host's", () => {
  it("refuses the guest seen counting 1568 s of uptime in 440 s", () => {
    expect(guestClockRate(1568, 440_000)).toBeGreaterThan(MAX_GUEST_CLOCK_RATE);
  });

  it("accepts a guest whose uptime trails the host's time since qemu started (the kernel starts after qemu)", () => {
    expect(guestClockRate(170, 185_000)).toBeLessThan(1);
    expect(guestClockRate(170, 185_000)).toBeGreaterThan(0.9);
  });

  it("gives no rate before any host time has passed", () => {
    expect(guestClockRate(5, 0)).toBe(0);
  });
});
