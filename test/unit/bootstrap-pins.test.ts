/**
 * Scale-down and placement pins: a member that holds a stack's pinned data is not removed unless
 * forced, and labels are only ever added, so bootstrap never strips a pin.
 */
import { Inventory, InventoryNode } from "../../inventory/inventory";
import { pinRefusals, planRemovals, planRolesAndLabels, Step } from "../../bootstrap/plan";
import type { NodeFacts } from "../../swarm/nodes";

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

  it("is refused, naming the node, the stacks whose data is there and how to force it", () => {
    expect(pinRefusals(removals(inv(m1, w2)), false, "re-run with --force to remove it anyway")).toEqual([
      "refusing to remove worker-1: it holds the data of stack(s) traefik, shop, wordpress (placement pins traefik-certs, wordpress-data); removing it loses that data. " +
        "Move the data and the pin label to another node first, or re-run with --force to remove it anyway",
    ]);
  });

  it("goes ahead with --force, and for nodes that hold no pin", () => {
    expect(pinRefusals(removals(inv(m1, w2)), true, "…")).toEqual([]);
    expect(removals(inv(m1, w1)).map((s) => s.node)).toEqual(["worker-2"]);
    expect(pinRefusals(removals(inv(m1, w1)), false, "…")).toEqual([]);
  });

  it("is not fooled by a pin label without bookkeeping, or bookkeeping under another prefix", () => {
    const odd = [
      member(m1, "A"),
      member(w1, "B", { "wordpress-data": "true", "hcloud-swarm.pinx": "a", "hcloud-swarm.pin.": "b" }),
    ];
    expect(pinRefusals(planRemovals(inv(m1), odd), false, "…")).toEqual([]);
  });

  it("never plans to remove a label, so a pin set by stack deploy survives every bootstrap", () => {
    const steps = planRolesAndLabels(inv(m1, node("worker-1", "worker", 21, { tier: "app" })), members);
    expect(steps.map((s) => `${s.kind} ${s.node}`)).toEqual(["label manager-1", "label worker-1"]);
    const w = steps.find((s) => s.node === "worker-1") as Extract<Step, { kind: "label" }>;
    expect(w.labels).toMatchObject({ tier: "app" });
    expect(Object.keys(w.labels).filter((k) => k in pinned)).toEqual([]);
  });
});
