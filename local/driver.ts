/**
 * One bed, two kinds. The namespace bed (local/ns/: real sshd and dockerd in namespaces on this
 * kernel) and the VM bed (local/vm/: Debian VMs under qemu, booted by cloud-init) each implement
 * this driver completely: up, down, status, exec and shape, over the files they leave in DIR
 * (state.json, inventory.json, known_hosts, id_ed25519). What only one kind can do is an optional
 * capability the caller asks for, never a check of the kind. ./beds.ts picks the driver for a DIR.
 */
import type { BedKind } from "./common/prerequisites";
import type { NodeShape, ShapeAction, ShapeRequest } from "./common/shape-request";

export type { BedKind };

export interface BedUpOptions {
  /** Bed directory. */
  readonly dir: string;
  /** Number of nodes. Default 3. */
  readonly nodes?: number;
  /** How many of them are managers (the first ones). Default 1. */
  readonly managers?: number;
  /** Install missing Debian packages with apt-get. Default true. */
  readonly install?: boolean;
  /** Progress lines. Default: none. */
  readonly log?: (line: string) => void;
}

export interface BedNodeSummary {
  readonly name: string;
  readonly role: string;
  /** Where SSH connects. */
  readonly address: string;
  /** Kind-specific: the netns, or the VM's private address and readiness times. */
  readonly detail: string;
}

export interface BedUpSummary {
  readonly kind: BedKind;
  readonly dir: string;
  readonly nodes: readonly BedNodeSummary[];
  readonly inventoryPath: string;
  readonly knownHostsPath: string;
  readonly privateKeyPath: string;
  readonly totalMs: number;
  /** Extra facts worth printing (bridge and range, accelerator, image). */
  readonly notes: readonly string[];
}

export interface ShapeOutcome {
  /** The changes made, in node order (none when the request was empty or already in force). */
  readonly actions: readonly ShapeAction[];
  /** The named nodes' conditions (every node when none was named), read back from the system. */
  readonly shapes: readonly NodeShape[];
  /** What applies to every node of this kind, e.g. that the namespace bed cannot add latency. */
  readonly note: string;
}

/** Power a node off and on again, as a server's plug: the disk stays (the VM bed). */
export interface PowerControl {
  off(dir: string, node: string): Promise<void>;
  /** Starts it again from its own disk; waiting for the guest to boot is the caller's business. */
  on(dir: string, node: string): Promise<void>;
}

/** `local status --json`: one shape for both kinds; `kind` is null when DIR holds no bed. */
export interface BedStatusJson {
  readonly command: "local status";
  readonly dir: string;
  readonly kind: "namespace" | "vm" | null;
  readonly network: Readonly<Record<string, string | null>> | null;
  readonly accelerator: { readonly name: string; readonly reason: string } | null;
  readonly nodes: readonly {
    readonly name: string;
    readonly role: string;
    readonly address: string;
    readonly privateAddress: string | null;
    readonly running: boolean;
    readonly sshd: boolean;
    readonly dockerd: boolean;
    readonly engine: string | null;
    readonly rssMiB: number | null;
  }[];
  readonly kernel:
    | readonly {
        readonly name: string;
        readonly available: boolean;
        readonly detail: string;
        readonly consequence: string;
      }[]
    | null;
}

export interface BedDriver {
  readonly kind: BedKind;
  /** "namespace bed" or "VM bed", for messages. */
  readonly title: string;
  /** What a node is called in `local up`'s summary ("nodes", "VMs") and the heading of its DETAIL column. */
  readonly nodeNoun: string;
  readonly detailHeading: string;
  /** Where a failed `up` leaves its logs, for the error message. */
  logHint(dir: string): string;
  /** Creates a bed of this kind in DIR (after removing one of this kind there). */
  up(o: BedUpOptions): Promise<BedUpSummary>;
  /** Removes every bed of this kind in DIR, also after a crash; says what was removed (nothing: []). */
  down(dir: string): Promise<string[]>;
  /** The formatted status of the bed in DIR. */
  status(dir: string): Promise<string>;
  /** The same facts as `status`, in the one shape `local status --json` documents (docs/reference/cli.md). */
  statusJson(dir: string): Promise<BedStatusJson>;
  /** Runs a command on a node as root, output to this process's stdout and stderr; its exit code. */
  exec(dir: string, node: string, command: readonly string[]): Promise<number>;
  /** Applies a shape request to the named nodes (an empty request only reads them) and reads them back (none named: every node). */
  shape(dir: string, nodes: readonly string[], req: ShapeRequest): Promise<ShapeOutcome>;
  /** Optional: power cuts and restarts of one node (the VM bed). */
  readonly power?: PowerControl;
  /** Optional: lines about what this machine's kernel cannot do, where the bed runs on it (the namespace bed). */
  hostKernelNotes?(): Promise<string[]>;
}
