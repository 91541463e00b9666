/** infra/locations.ts: existing nodes stay where they are; new ones fill the least used location. */
import { placeNodes } from "../../../infra/locations";

const where = (m: Map<string, { location: string; ordinal: number }>) =>
  Object.fromEntries([...m].map(([k, v]) => [k, `${v.location}#${v.ordinal}`]));

describe("where nodes live", () => {
  it("is round robin on a fresh cluster, for any number of locations", () => {
    for (const locations of [["nbg1"], ["nbg1", "fsn1"], ["nbg1", "fsn1", "hel1"]]) {
      const placed = placeNodes({ locations, managers: 3, workers: 7 });
      for (let i = 1; i <= 7; i++)
        expect(placed.get(`worker-${i}`)).toEqual({
          location: locations[(i - 1) % locations.length],
          ordinal: Math.floor((i - 1) / locations.length),
        });
    }
  });

  it("moves no node when a location is appended; the next nodes fill the new one first", () => {
    const before = placeNodes({ locations: ["nbg1"], managers: 1, workers: 3 });
    const existing = new Map([...before].map(([k, v]) => [k, v.location]));
    const after = placeNodes({ locations: ["nbg1", "fsn1"], managers: 1, workers: 6 }, existing);
    expect(where(after)).toEqual({
      "manager-1": "nbg1#0",
      "worker-1": "nbg1#0",
      "worker-2": "nbg1#1",
      "worker-3": "nbg1#2",
      "worker-4": "fsn1#0",
      "worker-5": "fsn1#1",
      "worker-6": "fsn1#2",
    });
  });

  it("keeps a node in a location the list no longer names", () => {
    const existing = new Map([
      ["worker-1", "hel1"],
      ["worker-2", "nbg1"],
    ]);
    const placed = placeNodes({ locations: ["nbg1", "fsn1"], managers: 0, workers: 3 }, existing);
    expect(where(placed)).toEqual({ "worker-1": "hel1#0", "worker-2": "nbg1#0", "worker-3": "fsn1#0" });
  });
});
