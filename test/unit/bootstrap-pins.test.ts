/**
 * Scale-down and placement pins: a member that holds a stack's pinned data is not removed unless
 * forced, and labels are only ever added, so bootstrap never strips a pin.
 */
import { Inventory, InventoryNode } from "../../inventory/inventory";
import { pinRefusals, planRemovals, planRolesAndLabels, Step } from "../../bootstrap/plan";
import type { NodeFacts } from "../../swarm/nodes";
import { cliEscape, pulumiEscape } from "../../bootstrap/force-remove";

const node = (
  name: string,
  role: "manager" | "worker",
  octet: number,
  labels: Record<string, string> = {},
): InventoryNode => ({
  name,
  role,
  host: `10.9.0.${octet}`,
  port: 22,
  user: "root",
  hostKey: `ssh-ed25519 AAAAkey${octet}`,
  advertiseAddress: `10.9.0.${octet}`,
  labels,
});
const member = (n: InventoryNode, id: string, labels: Record<string, string> = {}): NodeFacts => ({
  id,
  hostname: n.name,
  role: n.role,
  availability: "active",
  status: "ready",
  addr: n.advertiseAddress,
  ...(n.role === "manager" ? { reachability: "reachable" } : {}),
  leader: false,
  os: "linux",
  arch: "x86_64",
  labels,
  engineLabels: {},
});
const m1 = node("manager-1", "manager", 11);
const w1 = node("worker-1", "worker", 21);
const w2 = node("worker-2", "worker", 22);
const inv = (...nodes: InventoryNode[]): Inventory => ({ nodes });
const pinned = {
  "wordpress-data": "true",
  "hcloud-swarm.pin.wordpress-data": "shop,wordpress",
  "traefik-certs": "true",
  "hcloud-swarm.pin.traefik-certs": "traefik",
};

describe("scale-down of a node that holds placement pins", () => {
  const members = [member(m1, "A"), member(w1, "B", pinned), member(w2, "C")];
  const removals = (keep: Inventory): Step[] => planRemovals(keep, members);

  it("is refused, naming the node, the stacks whose data is there and how to force that node", () => {
    expect(pinRefusals(removals(inv(m1, w2)), [], cliEscape)).toEqual([
      "refusing to remove worker-1: it holds the data of stack(s) traefik, shop, wordpress (placement pins traefik-certs, wordpress-data); removing it loses that data. " +
        "Move the data and the pin label to another node first, or re-run with --force-remove worker-1 to remove it anyway (its data is lost)",
    ]);
  });

  it("goes ahead for the node that is named, and for nodes that hold no pin", () => {
    expect(pinRefusals(removals(inv(m1, w2)), ["worker-1"], cliEscape)).toEqual([]);
    expect(removals(inv(m1, w1)).map((s) => s.node)).toEqual(["worker-2"]);
    expect(pinRefusals(removals(inv(m1, w1)), [], cliEscape)).toEqual([]);
  });

  it("forcing one holder never lifts the guard for another holder in the same run", () => {
    const two = [member(m1, "A"), member(w1, "B", pinned), member(w2, "C", { "hcloud-swarm.pin.shop-data": "shop" })];
    const steps = planRemovals(inv(m1), two);
    expect(steps.map((s) => s.node).sort()).toEqual(["worker-1", "worker-2"]);
    // Names must match exactly: not a prefix, not another case, not a list in one entry.
    for (const forced of [["worker-1"], ["worker-1", "Worker-2", "worker-"], ["worker-1,worker-2"]])
      expect(pinRefusals(steps, forced, pulumiEscape)).toEqual([
        ...(forced[0] === "worker-1" ? [] : [expect.stringMatching(/^refusing to remove worker-1/)]),
        expect.stringMatching(
          /^refusing to remove worker-2: it holds the data of stack\(s\) shop .*set HCLOUD_SWARM_FORCE_SCALE_DOWN=worker-2 for this pulumi up/,
        ),
      ]);
  });

  it("on a holder that is down, says the data cannot be moved now and is gone if the node is, not just 'move the data'", () => {
    const down = [member(m1, "A"), { ...member(w1, "B", pinned), status: "down" }];
    const [msg] = pinRefusals(planRemovals(inv(m1), down), [], cliEscape);
    expect(msg).toMatch(
      /^refusing to remove worker-1: it holds the data of stack\(s\) traefik, shop, wordpress .*, and it is down, so that data is on its disk and cannot be moved now\. If it can come back, start it and move the data .* If it is lost for good, the data is gone with it: re-run with --force-remove worker-1 .*restore the data from a backup, or deploy the stack\(s\) with --accept-empty/,
    );
    expect(msg).not.toMatch(/removing it loses that data\. Move the data/);
  });

  it("is not fooled by a pin label without bookkeeping, or bookkeeping under another prefix", () => {
    const odd = [
      member(m1, "A"),
      member(w1, "B", { "wordpress-data": "true", "hcloud-swarm.pinx": "a", "hcloud-swarm.pin.": "b" }),
    ];
    expect(pinRefusals(planRemovals(inv(m1), odd), [], cliEscape)).toEqual([]);
  });

  it("never plans to remove a label, so a pin set by stack deploy survives every bootstrap", () => {
    const steps = planRolesAndLabels(inv(m1, node("worker-1", "worker", 21, { tier: "app" })), members);
    expect(steps.map((s) => `${s.kind} ${s.node}`)).toEqual(["label manager-1", "label worker-1"]);
    const w = steps.find((s) => s.node === "worker-1") as Extract<Step, { kind: "label" }>;
    expect(w.labels).toMatchObject({ tier: "app" });
    expect(Object.keys(w.labels).filter((k) => k in pinned)).toEqual([]);
  });
});
