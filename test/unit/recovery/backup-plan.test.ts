import { chooseBackupSource } from "../../../recovery/backup-plan";
import type { Inventory, InventoryNode } from "../../../inventory/inventory";
import type { NodeFacts } from "../../../swarm/nodes";

const node = (name: string, role: "manager" | "worker", i: number): InventoryNode => ({
  name,
  role,
  host: `10.0.0.${i}`,
  port: 22,
  user: "root",
  hostKey: "ssh-ed25519 AAAA",
  advertiseAddress: `10.0.0.${i}`,
  labels: {},
});
const member = (
  hostname: string,
  role: "manager" | "worker",
  i: number,
  extra: Partial<NodeFacts> = {},
): NodeFacts => ({
  id: `id${i}`,
  hostname,
  role,
  availability: "active",
  status: "ready",
  addr: `10.0.0.${i}`,
  ...(role === "manager" ? { reachability: "reachable" } : {}),
  leader: false,
  os: "linux",
  arch: "x86_64",
  labels: {},
  engineLabels: {},
  ...extra,
});

function cluster(managers: number): { inv: Inventory; members: NodeFacts[] } {
  const names = [...Array.from({ length: managers }, (_, i) => `manager-${i + 1}`), "worker-1"];
  const inv: Inventory = { nodes: names.map((n, i) => node(n, n.startsWith("manager") ? "manager" : "worker", i + 1)) };
  const members = names.map((n, i) =>
    member(n, n.startsWith("manager") ? "manager" : "worker", i + 1, i === 0 ? { leader: true } : {}),
  );
  return { inv, members };
}

describe("chooseBackupSource", () => {
  it("stops a non-leader manager when there are 3, and promises no pause", () => {
    const { inv, members } = cluster(3);
    const c = chooseBackupSource(inv, members);
    expect(c).toMatchObject({ kind: "source", managers: 3 });
    if (c.kind === "source") {
      expect(c.node.name).toBe("manager-2");
      expect(c.pause).toBeUndefined();
    }
  });

  it("never picks the leader, even when it is the first in the inventory and the others come later", () => {
    const { inv, members } = cluster(5);
    const moved = members.map((m) => ({ ...m, leader: m.hostname === "manager-2" }));
    const c = chooseBackupSource(inv, moved);
    expect(c.kind === "source" && c.node.name).toBe("manager-1");
  });

  it("with one manager stops it and says that the control plane pauses and its containers stop", () => {
    const { inv, members } = cluster(1);
    const c = chooseBackupSource(inv, members);
    expect(c.kind === "source" && c.node.name).toBe("manager-1");
    expect(c.kind === "source" && c.pause).toMatch(
      /1 manager: .*no quorum.*control plane pauses.*containers on manager-1 stop/,
    );
  });

  it("refuses when stopping one more manager would lose quorum (3 managers, one down)", () => {
    const { inv, members } = cluster(3);
    const down = members.map((m) =>
      m.hostname === "manager-3" ? { ...m, status: "down", reachability: "unreachable" } : m,
    );
    const c = chooseBackupSource(inv, down);
    expect(c).toEqual({
      kind: "fail",
      problem: expect.stringMatching(/1 of 3 managers are unreachable; stopping one more .* would lose quorum/),
    });
  });

  it("refuses when no inventory manager is a ready manager of the swarm", () => {
    const { inv } = cluster(3);
    const c = chooseBackupSource(inv, [member("elsewhere", "manager", 9, { leader: true })]);
    expect(c).toEqual({
      kind: "fail",
      problem: expect.stringMatching(/no manager of the inventory is a ready, reachable manager/),
    });
  });
});
