/**
 * The Pulumi path, through the program itself: infra/index.ts runs under the mock harness with
 * `hcloud-swarm:stacks: [traefik, wordpress]`; the inventory it exports and the resources it
 * registers are pointed at the namespace bed's nodes (their addresses and host keys stand in for
 * Hetzner's servers), and the serialized SwarmNode, StackSecrets and Stacks providers the program
 * registered run on them in dependency order, as the engine would. Nobody labels a node by hand:
 * the program's own labels (location, edge) and deploy's pins are all there is.
 */
import * as fs from "fs";
import * as path from "path";
import requireFromString from "require-from-string";
import type { Inventory, InventoryNode } from "../../inventory/inventory";
import { FORCE_SCALE_DOWN_ENV } from "../../bootstrap/member";
import { readNodes, stackServices, stackTasks } from "../../swarm/facts";
import { connectManager } from "../../swarm/manager-session";
import { forgetState, runProgramDetailed, type RecordedResource } from "../support/pulumi";
import { providerEnv } from "../support/provider-env";
import { ACCEPT_EMPTY_ENV } from "../../stacks/pulumi/provider";
import { LOCAL_IMAGE, useBedFixture } from "../support/bed-fixture";

jest.setTimeout(300_000);

type Props = Record<string, unknown>;
type Provider = {
  create(i: Props): Promise<{ id: string; outs: Props }>;
  diff(id: string, o: Props, n: Props): Promise<{ changes: boolean }>;
  delete(id: string, o: Props): Promise<void>;
};

const SWARM_NODE = "pulumi-nodejs:dynamic/hcloud-swarm:SwarmNode";
const STACKS = "pulumi-nodejs:dynamic/hcloud-swarm:Stacks";
const SECRETS = "pulumi-nodejs:dynamic/hcloud-swarm:StackSecrets";
const config = {
  serverType: "cx23",
  managers: 1,
  workers: 2,
  stacks: JSON.stringify([
    { template: "traefik", vars: { acme_email: "ops@example.test", dashboard_domain: "traefik.example.test" } },
    { template: "wordpress", vars: { domain: "blog.example.test" } },
  ]),
};

const bed = useBedFixture({ name: "pulumi-path", nodes: 3, managers: 1 });
let key: string;
let run: Awaited<ReturnType<typeof runProgramDetailed>>;
const state = new Map<string, { provider: Provider; id: string; outs: Props }>();

/** A program node with the bed node of the same name standing in for its server. */
function onBed(n: InventoryNode): InventoryNode {
  const b = bed().node(n.name);
  return {
    ...n,
    host: b.host,
    port: b.port,
    user: b.user,
    hostKey: b.hostKey,
    advertiseAddress: b.advertiseAddress,
    publicAddress: b.host,
    privateAddress: b.advertiseAddress,
  };
}

function rebuild(r: RecordedResource): { provider: Provider; inputs: Props } {
  const provider = (
    requireFromString(String(r.inputs.__provider), path.join(__dirname, "__provider.js")) as { handler: () => Provider }
  ).handler();
  return { provider, inputs: r.inputs };
}

/** The program's inputs of a membership, pointed at the bed (and its key in place of the generated deploy key). */
function membershipInputs(r: RecordedResource): Props {
  return {
    ...r.inputs,
    node: onBed(r.inputs.node as InventoryNode),
    managers: (r.inputs.managers as InventoryNode[]).map(onBed),
    privateKey: key,
  };
}

function stacksInputs(r: RecordedResource): Props {
  const inv = r.inputs.inventory as Inventory;
  // localImage is the Stacks resource's bed-only input: real images cannot be pulled here.
  return { ...r.inputs, inventory: { ...inv, nodes: inv.nodes.map(onBed) }, privateKey: key, localImage: LOCAL_IMAGE };
}

beforeAll(async () => {
  // Read by the SwarmNode provider at call time; keeps the test output to the assertions.
  providerEnv.HCLOUD_SWARM_QUIET = "1";
  key = fs.readFileSync(bed().privateKeyPath, "utf8");
  forgetState();
  run = await runProgramDetailed(config);
}, 120_000);

afterAll(() => {
  delete providerEnv.HCLOUD_SWARM_QUIET;
});

describe("pulumi up with the sample stacks, on the test bed", () => {
  it("exports an inventory whose only labels are the program's own", () => {
    const inv = run.outputs.inventory as Inventory;
    expect(Object.fromEntries(inv.nodes.map((n) => [n.name, n.labels]))).toEqual({
      "manager-1": { location: "nbg1", edge: "true" },
      "worker-1": { location: "nbg1" },
      "worker-2": { location: "nbg1" },
    });
  });

  it("forms the swarm with the program's SwarmNode resources, in their dependency order", async () => {
    for (const r of run.resources.filter((x) => x.type === SWARM_NODE)) {
      const { provider } = rebuild(r);
      const created = await provider.create(membershipInputs(r));
      state.set(r.name, { provider, ...created });
    }
    const s = await connectManager(
      { nodes: [onBed((run.outputs.inventory as Inventory).nodes[0])] },
      bed().privateKeyPath,
    );
    try {
      const nodes = await readNodes(s);
      expect(nodes.map((n) => [n.hostname, n.status, n.labels.location]).sort()).toEqual([
        ["manager-1", "ready", "nbg1"],
        ["worker-1", "ready", "nbg1"],
        ["worker-2", "ready", "nbg1"],
      ]);
    } finally {
      s.close();
    }
  });

  it("converges traefik and wordpress through the program's StackSecrets and Stacks resources, with no label set by hand", async () => {
    const values = run.resources.find((r) => r.type === SECRETS)?.state.values as Record<string, { reveal: string }>;
    const stacks = run.resources.find((r) => r.type === STACKS) as RecordedResource;
    // The program handed the kept values to the stacks resource.
    expect(stacks.inputs.secretValues).toEqual(values);
    const { provider, inputs } = ((r) => ({ ...rebuild(r), inputs: stacksInputs(r) }))(stacks);
    const created = await provider.create(inputs);
    state.set(stacks.name, { provider, ...created });
    expect(created.outs).toMatchObject({
      hashes: { traefik: expect.any(String), wordpress: expect.any(String) },
      unconverged: [],
    });
    expect(created.outs.generatedSecrets).toEqual(
      Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.reveal])),
    );
    const s = await connectManager(inputs.inventory as Inventory, bed().privateKeyPath);
    try {
      expect((await stackServices(s)).map((x) => x.name).sort()).toEqual([
        "traefik_traefik",
        "wordpress_db",
        "wordpress_wordpress",
      ]);
      const pins = Object.fromEntries(
        (await readNodes(s)).map((n) => [
          n.hostname,
          Object.keys(n.labels)
            .filter((k) => k.startsWith("hcloud-swarm.pin."))
            .sort(),
        ]),
      );
      expect(pins).toEqual({
        "manager-1": ["hcloud-swarm.pin.traefik-certs"],
        "worker-1": ["hcloud-swarm.pin.wordpress-data"],
        "worker-2": [],
      });
    } finally {
      s.close();
    }
  });

  it("changes nothing on a second pulumi up with the same config", async () => {
    const again = await runProgramDetailed(config);
    const judged = again.resources.filter((x) => x.type === SWARM_NODE || x.type === STACKS);
    // Every resource the first up created is judged (3 memberships and the stacks), not none.
    expect(judged.map((r) => r.name).sort()).toEqual([...state.keys()].sort());
    expect(judged).toHaveLength(4);
    for (const r of judged) {
      const before = state.get(r.name) as { provider: Provider; id: string; outs: Props };
      const news = r.type === STACKS ? stacksInputs(r) : membershipInputs(r);
      expect({ name: r.name, diff: await before.provider.diff(before.id, before.outs, news) }).toEqual({
        name: r.name,
        diff: expect.objectContaining({ changes: false }),
      });
    }
  });

  it("refuses to delete the membership of the node that holds WordPress's data, until forced for that node by name (=1 refused)", async () => {
    const w1 = state.get("swarm-worker-1-swarm") as { provider: Provider; id: string; outs: Props };
    const refused = (await w1.provider.delete(w1.id, w1.outs).then(
      () => undefined,
      (e: Error) => e,
    )) as Error | undefined;
    expect(refused?.message).toMatch(
      /refusing to remove worker-1: it holds the data of stack\(s\) wordpress \(placement pin wordpress-data\).*set HCLOUD_SWARM_FORCE_SCALE_DOWN=worker-1 for this pulumi up/,
    );
    // The old meaning of =1 (every node) is refused, and naming another node does not let worker-1 go.
    const attempt = async (value: string) => {
      providerEnv[FORCE_SCALE_DOWN_ENV] = value;
      try {
        return (await w1.provider.delete(w1.id, w1.outs).then(
          () => undefined,
          (e: Error) => e,
        )) as Error | undefined;
      } finally {
        delete providerEnv[FORCE_SCALE_DOWN_ENV];
      }
    };
    expect((await attempt("1"))?.message).toMatch(
      /HCLOUD_SWARM_FORCE_SCALE_DOWN="1" no longer applies to every node at once: name the node\(s\) it is for/,
    );
    expect((await attempt("worker-2"))?.message).toMatch(/refusing to remove worker-1: it holds the data/);
    expect((await attempt("worker-1 "))?.message).toMatch(/"worker-1 " contains white space/);
    // worker-2 holds nothing: its membership goes as usual.
    const w2 = state.get("swarm-worker-2-swarm") as { provider: Provider; id: string; outs: Props };
    await w2.provider.delete(w2.id, w2.outs);
    providerEnv[FORCE_SCALE_DOWN_ENV] = "worker-1";
    try {
      await w1.provider.delete(w1.id, w1.outs);
    } finally {
      delete providerEnv[FORCE_SCALE_DOWN_ENV];
    }
    const s = await connectManager(
      { nodes: [onBed((run.outputs.inventory as Inventory).nodes[0])] },
      bed().privateKeyPath,
    );
    try {
      expect((await readNodes(s)).map((n) => n.hostname)).toEqual(["manager-1"]);
    } finally {
      s.close();
    }
  });
  it("then refuses the next pulumi up of wordpress (its data went with worker-1) until HCLOUD_SWARM_ACCEPT_EMPTY=wordpress", async () => {
    const stacks = run.resources.find((r) => r.type === STACKS) as RecordedResource;
    const before = state.get(stacks.name) as { provider: Provider; id: string; outs: Props };
    const provider = before.provider as Provider & {
      update(id: string, o: Props, n: Props): Promise<{ outs: Props }>;
    };
    const news = stacksInputs(stacks);
    // The config is unchanged: only the named stack makes this run deploy.
    expect((await provider.diff(before.id, before.outs, news)).changes).toBe(false);
    const refused = await provider.update(before.id, before.outs, news).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(refused?.message).toMatch(
      /stack wordpress: its pinned data \(pin wordpress-data\) was on worker-1 \(node \w+\), which is no longer in the swarm .*Refused; nothing was changed\. .*deploy with HCLOUD_SWARM_ACCEPT_EMPTY=wordpress for one pulumi up/,
    );
    const s = await connectManager(
      { nodes: [onBed((run.outputs.inventory as Inventory).nodes[0])] },
      bed().privateKeyPath,
    );
    try {
      expect((await readNodes(s)).filter((n) => n.labels["wordpress-data"] !== undefined)).toEqual([]);
      expect((await stackTasks(s, "wordpress")).filter((t) => t.state === "running")).toEqual([]);
      providerEnv[ACCEPT_EMPTY_ENV] = "wordpress";
      try {
        expect((await provider.diff(before.id, before.outs, news)).changes).toBe(true);
        const r = await provider.update(before.id, before.outs, news);
        expect(r.outs).toMatchObject({ unconverged: [] });
      } finally {
        delete providerEnv[ACCEPT_EMPTY_ENV];
      }
      expect((await readNodes(s)).find((n) => n.labels["wordpress-data"] === "true")?.hostname).toBe("manager-1");
    } finally {
      s.close();
    }
  });
});
