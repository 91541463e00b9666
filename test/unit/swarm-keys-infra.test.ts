/**
 * SwarmKeys in the Pulumi program under mocks: one per cluster, after every membership; the unlock
 * key only ever a secret (resource output and stack output); the config key autolock validated,
 * reaching the resource and the exported inventory; turning it off or on changes that resource alone,
 * in place. The swarm is paper here: the stand-in answers with a key as a real swarm's would be kept.
 */
import { dynamicMocks, runProgramDetailed } from "./../support/pulumi";
import { diffKeys, type SwarmKeysOutputs } from "../../bootstrap/swarm-keys-provider";

// Two program runs per test; on a loaded 2-core machine one took over a minute.
jest.setTimeout(300_000);

const SWARM_KEYS = "pulumi-nodejs:dynamic/hcloud-swarm:SwarmKeys";
const PAPER_KEY = "SWMKEY-1-paperKeyStandingInForTheSwarmsOwn0000000000";
const PAPER_BACKUP_KEY = `hcloud-swarm-backup-key-v1 ${Buffer.alloc(32, 9).toString("base64")}`;

beforeAll(() => {
  dynamicMocks.set(SWARM_KEYS, async ({ inputs }) => ({
    ...inputs,
    unlockKeys: inputs.autolock === true ? [PAPER_KEY] : [],
    backupKey: PAPER_BACKUP_KEY,
  }));
});
afterAll(() => dynamicMocks.delete(SWARM_KEYS));

describe("SwarmKeys in the Pulumi program", () => {
  it("keeps the unlock key only as a secret: the resource's output and the stack output unlockKey", async () => {
    const run = await runProgramDetailed({ serverType: "cx23", managers: 3, workers: 1 });
    const keys = run.resources.filter((r) => r.type === SWARM_KEYS);
    expect(keys.map((k) => k.name)).toEqual(["swarm-swarm-keys"]);
    const k = keys[0];
    expect(run.additionalSecretOutputs[`${SWARM_KEYS}::${k.name}`]).toEqual(["privateKey", "unlockKeys", "backupKey"]);
    expect(run.secretInputs[`${SWARM_KEYS}::${k.name}`]).toEqual(["privateKey"]);
    expect(k.inputs.autolock).toBe(true);
    expect((k.inputs.managers as { name: string }[]).map((m) => m.name)).toEqual([
      "manager-1",
      "manager-2",
      "manager-3",
    ]);
    expect(k.inputs.members).toEqual([
      "swarm-manager-1-swarm-id",
      "swarm-manager-2-swarm-id",
      "swarm-manager-3-swarm-id",
      "swarm-worker-1-swarm-id",
    ]);
    expect(run.outputs.unlockKey).toBe(PAPER_KEY);
    expect(run.secretOutputs).toContain("unlockKey");
    expect(run.outputs.backupKey).toBe(PAPER_BACKUP_KEY);
    expect(run.secretOutputs).toContain("backupKey");
    // Nowhere in a plain output: not in the inventory, the known_hosts file or anything else exported.
    for (const [name, value] of Object.entries(run.outputs))
      if (!run.secretOutputs.includes(name))
        expect({ name, value: JSON.stringify(value) ?? "" }).not.toEqual(
          expect.objectContaining({ value: expect.stringMatching(/SWMKEY|backup-key-v1/) }),
        );
    expect((run.outputs.inventory as { swarm: { autolock: boolean } }).swarm.autolock).toBe(true);
  });

  it("carries autolock false to the resource and the inventory, with an empty key", async () => {
    const run = await runProgramDetailed({ serverType: "cx23", workers: 1, autolock: false });
    expect(run.resources.find((r) => r.type === SWARM_KEYS)?.inputs.autolock).toBe(false);
    expect((run.outputs.inventory as { swarm: { autolock: boolean } }).swarm.autolock).toBe(false);
    expect(run.outputs.unlockKey).toBe("");
    expect(run.secretOutputs).toContain("unlockKey");
  });

  it("refuses a value that is not a boolean, naming the key", async () => {
    await expect(runProgramDetailed({ serverType: "cx23", autolock: "sometimes" })).rejects.toThrow(
      /hcloud-swarm:autolock must be true or false, got "sometimes"/,
    );
  });

  it("turns autolock off and on again changing that resource alone, never replacing anything", async () => {
    const on = await runProgramDetailed({ serverType: "cx23", workers: 1 });
    const off = await runProgramDetailed({ serverType: "cx23", workers: 1, autolock: false });
    const changed = on.resources
      .filter((r) => JSON.stringify(off.resources.find((x) => x.name === r.name)?.inputs) !== JSON.stringify(r.inputs))
      .map((r) => r.name);
    expect(changed).toEqual(["swarm-swarm-keys"]);
    const olds = on.resources.find((r) => r.type === SWARM_KEYS)?.state as unknown as SwarmKeysOutputs;
    const news = off.resources.find((r) => r.type === SWARM_KEYS)?.inputs as unknown as SwarmKeysOutputs;
    const diff = await diffKeys(olds, news);
    expect(diff).toMatchObject({ changes: true, replaces: [] });
  });
});
