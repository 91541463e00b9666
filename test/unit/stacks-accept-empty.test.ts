/**
 * HCLOUD_SWARM_ACCEPT_EMPTY, the `pulumi up` side of `stack deploy --accept-empty`: it names stacks of
 * the resource, makes that run deploy them even with the config unchanged, and a value that is not a
 * plain list of those stacks stops the update before any manager is contacted.
 */
import { ACCEPT_EMPTY_ENV, stacksProvider, type StacksProviderOutputs } from "../../stacks/pulumi/provider";

const inputs: StacksProviderOutputs = {
  // Never contacted: every case here stops before a session is opened (and it is loopback, where nothing listens on port 9).
  inventory: {
    nodes: [
      {
        name: "manager-1",
        role: "manager",
        host: "127.0.0.1",
        port: 9,
        user: "root",
        hostKey: "ssh-ed25519 AAAA",
        advertiseAddress: "127.0.0.1",
        labels: {},
      },
    ],
  },
  privateKey: "unused",
  stacks: [
    { name: "traefik", file: "traefik", text: "", vars: {} },
    { name: "wordpress", file: "wordpress", text: "", vars: {} },
  ],
  hashes: {},
  generatedSecrets: {},
  unconverged: [],
};

afterEach(() => delete process.env[ACCEPT_EMPTY_ENV]);

describe(`${ACCEPT_EMPTY_ENV} (pulumi up)`, () => {
  it("makes an unchanged config deploy again for the run that names one of its stacks, and only then", async () => {
    expect((await stacksProvider.diff!("id", inputs, inputs)).changes).toBe(false);
    process.env[ACCEPT_EMPTY_ENV] = "wordpress";
    expect((await stacksProvider.diff!("id", inputs, inputs)).changes).toBe(true);
    process.env[ACCEPT_EMPTY_ENV] = "shop";
    expect((await stacksProvider.diff!("id", inputs, inputs)).changes).toBe(false);
  });

  it("refuses =1, white space, empty entries and unknown stacks, naming the value, before contacting a manager", async () => {
    const cases: Array<[string, RegExp]> = [
      ["1", /HCLOUD_SWARM_ACCEPT_EMPTY="1" no longer applies to every stack at once: name the stack\(s\)/],
      ["wordpress, traefik", /" traefik" contains white space/],
      ["wordpress,", /entry 2 is empty/],
      ["wordpres", /names stack "wordpres", which is not a stack of hcloud-swarm:stacks \(known: traefik, wordpress\)/],
    ];
    for (const [value, message] of cases) {
      process.env[ACCEPT_EMPTY_ENV] = value;
      await expect(stacksProvider.update!("id", inputs, inputs)).rejects.toThrow(message);
    }
  });
});
