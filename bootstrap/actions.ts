// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/** The record every bootstrap run returns and prints: what it changed, node by node. */

export type ActionKind =
  | "init"
  | "ingress"
  | "firewall"
  | "join"
  | "promote"
  | "demote"
  | "label"
  | "drain"
  | "leave"
  | "remove"
  | "reconcile"
  | "unlock"
  | "autolock";

export interface Action {
  /** Inventory node name (or the swarm hostname of a node that left the inventory). */
  readonly node: string;
  readonly kind: ActionKind;
  /** Human-readable detail; never holds a secret. */
  readonly detail: string;
}

/** Receives each action as it is taken; run and provider both log through it. */
export type ActionSink = (action: Action) => void;

export function formatAction(a: Action): string {
  return `${a.node.padEnd(16)} ${a.kind.padEnd(8)} ${a.detail}`;
}

/** The summary the CLI prints; "no changes" is what a second run on a formed cluster shows. */
export function formatActions(actions: readonly Action[]): string {
  if (actions.length === 0) return "no changes: the swarm already matches the inventory";
  return (
    `${actions.length} action${actions.length === 1 ? "" : "s"} taken:\n` +
    actions.map((a) => "  " + formatAction(a)).join("\n")
  );
}

/** Failure with everything a user needs: what went wrong (all of it) and what was done before. */
export class BootstrapError extends Error {
  constructor(
    readonly problems: readonly string[],
    readonly actions: readonly Action[],
  ) {
    const message =
      `bootstrap failed:\n` +
      problems.map((p) => `  - ${p}`).join("\n") +
      (actions.length ? `\n${formatActions(actions)}\nre-run to finish; completed steps are not repeated.` : "");
    super(message);
    // Set again: in the serialized dynamic provider this constructor calls Error as a plain
    // function, which does not set the message on the instance.
    this.message = message;
    this.name = "BootstrapError";
  }
}
