/**
 * The user's day, as the rehearsal plays it: each step a real run of the program with the state
 * of the last, and what each step must show. The checks are pure: they read the step's report
 * (the engine's operations and the providers' lines, see tally.ts) and what was observed on the
 * bed before and after (VMs), and return every problem found.
 */
import type { Tally } from "./tally";

export interface DayConfig {
  readonly managers: number;
  /** Workers at the start; the day grows by one and shrinks back. */
  readonly workers: number;
}

export interface StepObservation {
  readonly tally: Tally;
  /** VMs on the bed before and after the step. */
  readonly vmsBefore: readonly string[];
  readonly vmsAfter: readonly string[];
  /** Order of operations, "op type name", as they finished. */
  readonly order: readonly string[];
}

export type StepKind = "up" | "verify" | "teardown";

export interface DayStep {
  readonly key: "form" | "again" | "grow" | "shrink" | "verify" | "teardown";
  readonly title: string;
  readonly kind: StepKind;
  /** Workers for an `up`. */
  readonly workers?: number;
  /** Problems with an `up`'s result; none means the step passed. */
  readonly expect?: (o: StepObservation) => string[];
}

/** Server names as the program gives them: "<cluster>-<node>". */
export function serverName(cluster: string, node: string): string {
  return `${cluster}-${node}`;
}

function nodes(c: DayConfig, workers: number): string[] {
  return [
    ...Array.from({ length: c.managers }, (_, i) => `manager-${i + 1}`),
    ...Array.from({ length: workers }, (_, i) => `worker-${i + 1}`),
  ];
}

const diff = (a: readonly string[], b: readonly string[]) => a.filter((x) => !b.includes(x));

function check(problems: string[], ok: boolean, problem: string): void {
  if (!ok) problems.push(problem);
}

function same(actual: readonly string[], expected: readonly string[]): boolean {
  return JSON.stringify([...actual].sort()) === JSON.stringify([...expected].sort());
}

/** The day for `c`: the full one, or the short form that `npm run test:rehearsal` runs (form, grow by one, verify, teardown). */
export function day(c: DayConfig, cluster: string, short = false): DayStep[] {
  const all = nodes(c, c.workers);
  const added = `worker-${c.workers + 1}`;
  const addedServer = `swarm-${added}`;
  const vm = (n: string) => serverName(cluster, n);

  const form: DayStep = {
    key: "form",
    title: `form: managers=${c.managers}, workers=${c.workers}, stacks traefik and wordpress`,
    kind: "up",
    workers: c.workers,
    expect: (o) => {
      const p: string[] = [];
      check(
        p,
        same(
          o.tally.serversCreated,
          all.map((n) => `swarm-${n}`),
        ),
        `expected servers ${all.join(", ")} created, got ${o.tally.serversCreated.join(", ") || "none"}`,
      );
      check(
        p,
        same(diff(o.vmsAfter, o.vmsBefore), all.map(vm)),
        `expected VMs ${all.map(vm).join(", ")} booted, the bed gained ${diff(o.vmsAfter, o.vmsBefore).join(", ") || "none"}`,
      );
      const joins = o.tally.bootstrapActions.filter((a) => a.kind === "join").map((a) => a.on);
      check(
        p,
        o.tally.bootstrapActions.some((a) => a.kind === "init" && a.on === "manager-1"),
        "manager-1 did not initialise the swarm",
      );
      check(
        p,
        same(joins, all.slice(1)),
        `expected ${all.slice(1).join(", ") || "no node"} to join, joined: ${joins.join(", ") || "none"}`,
      );
      for (const stack of ["traefik", "wordpress"])
        check(
          p,
          o.tally.deployActions.some((a) => a.on === stack && a.kind === "docker stack deploy"),
          `stack ${stack} was not deployed`,
        );
      return p;
    },
  };

  const again: DayStep = {
    key: "again",
    title: "again: the same config, nothing to do",
    kind: "up",
    workers: c.workers,
    expect: (o) => {
      const p: string[] = [];
      check(p, o.tally.changes.length === 0, `expected no resource changes, got: ${o.tally.changes.join("; ")}`);
      check(
        p,
        o.tally.bootstrapActions.length === 0,
        `expected 0 bootstrap actions, got ${o.tally.bootstrapActions.length}`,
      );
      check(p, o.tally.deployActions.length === 0, `expected 0 deploy actions, got ${o.tally.deployActions.length}`);
      check(p, same(o.vmsAfter, o.vmsBefore), "the bed's VMs changed");
      return p;
    },
  };

  const grow: DayStep = {
    key: "grow",
    title: `grow: workers=${c.workers + 1}`,
    kind: "up",
    workers: c.workers + 1,
    expect: (o) => {
      const p: string[] = [];
      check(
        p,
        same(o.tally.serversCreated, [addedServer]),
        `expected exactly ${addedServer} created, got ${o.tally.serversCreated.join(", ") || "none"}`,
      );
      check(
        p,
        o.tally.serversChanged.length === 0 && o.tally.serversDeleted.length === 0,
        `existing servers changed: ${[...o.tally.serversChanged, ...o.tally.serversDeleted].join(", ")}`,
      );
      check(
        p,
        same(diff(o.vmsAfter, o.vmsBefore), [vm(added)]) && diff(o.vmsBefore, o.vmsAfter).length === 0,
        `expected exactly one new VM ${vm(added)}, the bed went from ${o.vmsBefore.length} to ${o.vmsAfter.length} VMs`,
      );
      const memberships = o.tally.changes.filter((x) => x.includes(":SwarmNode "));
      check(
        p,
        same(memberships, [`create pulumi-nodejs:dynamic/hcloud-swarm:SwarmNode swarm-${added}-swarm`]),
        `expected one new membership, got: ${memberships.join("; ") || "none"}`,
      );
      // The members' host firewalls must admit the new node (bootstrap/allow-list.ts); nothing else may touch them.
      const others = o.tally.bootstrapActions.filter((a) => a.on !== added && a.kind !== "firewall");
      check(
        p,
        others.length === 0,
        `bootstrap touched other nodes: ${others.map((a) => `${a.on} ${a.kind}`).join(", ")}`,
      );
      check(
        p,
        o.tally.deployActions.length === 0,
        `the stacks were redeployed: ${o.tally.deployActions.map((a) => `${a.on}: ${a.kind}`).join("; ")}`,
      );
      return p;
    },
  };

  const shrink: DayStep = {
    key: "shrink",
    title: `shrink: workers=${c.workers}`,
    kind: "up",
    workers: c.workers,
    expect: (o) => {
      const p: string[] = [];
      check(
        p,
        same(o.tally.serversDeleted, [addedServer]),
        `expected exactly ${addedServer} deleted, got ${o.tally.serversDeleted.join(", ") || "none"}`,
      );
      const kinds = o.tally.bootstrapActions.filter((a) => a.on === added).map((a) => a.kind);
      for (const k of ["drain", "leave", "remove"])
        check(
          p,
          kinds.includes(k),
          `${added} was not ${k === "remove" ? "removed from the swarm" : k === "leave" ? "made to leave" : "drained"} (actions: ${kinds.join(", ") || "none"})`,
        );
      const member = o.order.indexOf(`delete pulumi-nodejs:dynamic/hcloud-swarm:SwarmNode swarm-${added}-swarm`);
      const server = o.order.indexOf(`delete hcloud:index/server:Server ${addedServer}`);
      check(
        p,
        member >= 0 && server > member,
        `the membership of ${added} must be deleted before its server (membership at ${member}, server at ${server})`,
      );
      check(
        p,
        same(diff(o.vmsBefore, o.vmsAfter), [vm(added)]) && diff(o.vmsAfter, o.vmsBefore).length === 0,
        `expected exactly VM ${vm(added)} removed, the bed went from ${o.vmsBefore.join(", ")} to ${o.vmsAfter.join(", ")}`,
      );
      return p;
    },
  };

  const verify: DayStep = { key: "verify", title: "verify --wire: encryption proven on the wire", kind: "verify" };
  const teardown: DayStep = {
    key: "teardown",
    title: "teardown: pulumi destroy, then nothing left on the machine",
    kind: "teardown",
  };
  return short ? [form, grow, verify, teardown] : [form, again, grow, shrink, verify, teardown];
}
