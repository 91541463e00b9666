// @provider-closure: serialized into Pulumi state by the dynamic providers; follow docs/design/dynamic-providers.md
/**
 * Pulumi dynamic provider that deploys the configured stacks through the same code as
 * `hcloud-swarm stack deploy`. Plain side only: stacks/pulumi/resource.ts holds the Input<> side.
 *
 * Secrets: their values come in from the StackSecrets resource (secret-values.ts), which keeps
 * them in state before any Docker secret exists; the ones this resource created come back as the
 * output `generatedSecrets` (secret), carried over on update, because Docker cannot give them back.
 *
 * Nothing done is ever dropped from state: when a deploy fails after it changed the cluster, the
 * error carries the outputs so far (Pulumi's "resource initialization failed" state), and the next
 * `pulumi up` continues from them. A stack that is healthy but slow to start is a warning, not a
 * failure: it is listed in `unconverged`, and the next `pulumi up` waits for it again. A stack that
 * cannot start (deploy stopped early, see converge.ts) fails the update, with the reason and fix.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import type { Inventory } from "../../inventory/inventory";
import { managerSession } from "../../swarm/manager-session";
import { describeConvergence } from "../deploy/converge";
import { deployStack } from "../deploy/deploy";
import type { PinRequest } from "../placement/placement-pins";
import { removeStack } from "../deploy/remove";
import type { GeneratedSecret } from "../deploy/secrets";
import { sameValue } from "../../common/same-value";
import { parseNameList, unknownNames } from "../../common/name-list";

export interface StackEntry {
  readonly name: string;
  readonly file: string;
  readonly text: string;
  readonly vars: Readonly<Record<string, string>>;
  /** Nodes for placement pins no node holds yet (`hcloud-swarm:stacks[i].pins`). Default: the least loaded eligible node. */
  readonly pins?: readonly PinRequest[];
}

export interface StacksProviderInputs {
  readonly inventory: Inventory;
  /** OpenSSH private key for every node. */
  readonly privateKey: string;
  readonly stacks: readonly StackEntry[];
  /** Values of the stacks' generated secrets, from StackSecrets. Default {}: a stack that needs one fails. */
  readonly secretValues?: Readonly<Record<string, GeneratedSecret>>;
  /** Test bed only: the local image every service runs instead of its own. Default: none. */
  readonly localImage?: string;
}

export interface StacksProviderOutputs extends StacksProviderInputs {
  /** Rendered-file hash per stack name. */
  readonly hashes: Readonly<Record<string, string>>;
  /** Docker secret name → the value this resource created it with (`user:password` for htpasswd). */
  readonly generatedSecrets: Readonly<Record<string, string>>;
  /** Stacks that had not converged when the deploy's wait ended; the next update waits again. */
  readonly unconverged: readonly string[];
}

/** Seconds `pulumi up` waits for each stack to converge (default CONVERGE_TIMEOUT_MS); read at call time. */
export const CONVERGE_TIMEOUT_ENV = "HCLOUD_SWARM_CONVERGE_TIMEOUT";

/**
 * Stacks that may start without their pinned data in this `pulumi up` (comma-separated names; the
 * CLI's `stack deploy --accept-empty`); read at call time. A one-run override on purpose: a setting
 * kept in the config would silently accept every later loss too.
 */
export const ACCEPT_EMPTY_ENV = "HCLOUD_SWARM_ACCEPT_EMPTY";

/** The stacks ACCEPT_EMPTY_ENV names; throws naming the value when it is not a list of this resource's stacks. */
function acceptedEmpty(stacks: readonly StackEntry[]): string[] {
  const { names, problems } = parseNameList(process.env[ACCEPT_EMPTY_ENV], ACCEPT_EMPTY_ENV, "stack", "wordpress");
  problems.push(
    ...unknownNames(
      names,
      stacks.map((s) => s.name),
      ACCEPT_EMPTY_ENV,
      "stack",
      "a stack of hcloud-swarm:stacks",
    ),
  );
  if (problems.length) throw new Error(problems.join("\n"));
  return names;
}

/** Dynamic providers signal "created, but failed to initialise" with an error carrying id and outputs. */
function keepingState(err: unknown, id: string, outs: StacksProviderOutputs, provider: unknown): Error {
  // A serialized provider's own Error subclasses (DeployRefusedError) fail `instanceof Error`: read the message itself.
  const own = (err as { message?: unknown } | undefined)?.message;
  const message = err instanceof Error ? err.message : typeof own === "string" ? own : String(err);
  return Object.assign(new Error(message), {
    id,
    properties: { ...outs, ...(provider !== undefined ? { __provider: provider } : {}) },
    reasons: [message],
  });
}

/** Deploys `news.stacks` in order, then removes stacks that were in `olds` but are gone now. */
async function apply(
  id: string,
  news: StacksProviderInputs,
  olds?: StacksProviderOutputs,
): Promise<StacksProviderOutputs> {
  const generated: Record<string, string> = { ...(olds?.generatedSecrets ?? {}) };
  const hashes: Record<string, string> = {};
  const unconverged: string[] = [];
  const outs = () => ({
    ...news,
    hashes: { ...(olds?.hashes ?? {}), ...hashes },
    generatedSecrets: { ...generated },
    unconverged: [...unconverged],
  });
  // The serialized provider's own text: the engine needs it with the kept outputs to delete later.
  const provider = (news as unknown as Record<string, unknown>).__provider;
  const timeout = Number(process.env[CONVERGE_TIMEOUT_ENV]);
  try {
    const accepted = acceptedEmpty(news.stacks);
    const s = await managerSession(news.inventory, () => news.privateKey);
    try {
      for (const st of news.stacks) {
        const r = await deployStack(s, {
          source: { file: st.file, text: st.text, defaultName: st.name, builtin: true },
          stack: st.name,
          vars: st.vars,
          inventory: news.inventory,
          secretValues: news.secretValues ?? {},
          previousSecretValues: olds?.secretValues ?? {},
          ...(st.pins ? { pins: st.pins } : {}),
          acceptEmpty: accepted.includes(st.name),
          acceptHint: `${ACCEPT_EMPTY_ENV}=${st.name} for one pulumi up`,
          ...(news.localImage ? { localImage: news.localImage } : {}),
          ...(timeout > 0 ? { convergeTimeoutMs: timeout * 1000 } : {}),
          keepGenerated: (list) => list.forEach((g) => (generated[g.name] = g.reveal)),
          log: (line) => console.log(line),
        });
        hashes[st.name] = r.hash;
        if (r.converge.converged) continue;
        if (r.converge.stoppedEarly) throw new Error(describeConvergence(st.name, r.converge).join("\n"));
        unconverged.push(st.name);
        for (const line of describeConvergence(st.name, r.converge)) console.log(`WARNING: ${line}`);
        console.log(`WARNING: stack ${st.name} is deployed but still starting; the next pulumi up waits for it again`);
      }
      for (const old of olds?.stacks ?? []) {
        if (!news.stacks.some((n) => n.name === old.name)) await removeStack(s, old.name, (line) => console.log(line));
      }
    } finally {
      s.close();
    }
  } catch (err) {
    throw keepingState(err, id, outs(), provider);
  }
  return outs();
}

const idOf = (inputs: StacksProviderInputs) => `stacks-${inputs.stacks.map((s) => s.name).join("-") || "none"}`;

export const stacksProvider: dynamic.ResourceProvider<StacksProviderInputs, StacksProviderOutputs> = {
  async diff(_id, olds, news) {
    // The secret values too: a changed value must reach the services (a new versioned secret, deploy.ts).
    const key = (x: StacksProviderInputs) => [x.stacks, x.inventory, x.localImage ?? null, x.secretValues ?? {}];
    const waiting = (olds.unconverged ?? []).length > 0;
    // Accepting an empty start is asked for one run: that run deploys, even with the config unchanged.
    const accepting = news.stacks.some((st) => (process.env[ACCEPT_EMPTY_ENV] ?? "").split(",").includes(st.name));
    return {
      changes: waiting || accepting || !sameValue(key(olds), key(news)),
      replaces: [],
      deleteBeforeReplace: false,
    };
  },
  async create(inputs) {
    const id = idOf(inputs);
    return { id, outs: await apply(id, inputs) };
  },
  async update(id, olds, news) {
    return { outs: await apply(id, news, olds) };
  },
  async delete(_id, props) {
    const s = await managerSession(props.inventory, () => props.privateKey);
    try {
      for (const st of [...props.stacks].reverse()) await removeStack(s, st.name, (line) => console.log(line));
    } finally {
      s.close();
    }
  },
};
