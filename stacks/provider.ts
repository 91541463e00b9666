/**
 * Pulumi dynamic provider that deploys the configured stacks through the same code as
 * `hcloud-swarm stack deploy`. Plain side only: stacks/resource.ts holds the Input<> side.
 *
 * Generated secrets come back as the output `generatedSecrets` (marked secret by the resource),
 * and are carried over from the previous state on update, because Docker cannot give them back.
 */
import type * as dynamic from "@pulumi/pulumi/dynamic";
import type { Inventory } from "../inventory/inventory";
import { managerSession } from "./cluster";
import { describeConvergence } from "./converge";
import { deployStack } from "./deploy";
import { removeStack } from "./remove";

export interface StackEntry {
  readonly name: string;
  readonly file: string;
  readonly text: string;
  readonly vars: Readonly<Record<string, string>>;
}

export interface StacksProviderInputs {
  readonly inventory: Inventory;
  /** OpenSSH private key for every node. */
  readonly privateKey: string;
  readonly stacks: readonly StackEntry[];
  /** Test bed only: the local image every service runs instead of its own. Default: none. */
  readonly localImage?: string;
}

export interface StacksProviderOutputs extends StacksProviderInputs {
  /** Rendered-file hash per stack name. */
  readonly hashes: Readonly<Record<string, string>>;
  /** Docker secret name → generated value (`user:password` for htpasswd). */
  readonly generatedSecrets: Readonly<Record<string, string>>;
}

/** Deploys `news.stacks` in order, then removes stacks that were in `olds` but are gone now. */
async function apply(news: StacksProviderInputs, olds?: StacksProviderOutputs): Promise<StacksProviderOutputs> {
  const generated: Record<string, string> = { ...(olds?.generatedSecrets ?? {}) };
  const hashes: Record<string, string> = {};
  const s = await managerSession(news.inventory, () => news.privateKey);
  try {
    for (const st of news.stacks) {
      const r = await deployStack(s, {
        source: { file: st.file, text: st.text, defaultName: st.name, builtin: true },
        stack: st.name,
        vars: st.vars,
        inventory: news.inventory,
        ...(news.localImage ? { localImage: news.localImage } : {}),
        keepGenerated: (list) => list.forEach((g) => (generated[g.name] = g.reveal)),
        log: (line) => console.log(line),
      });
      if (!r.converge.converged) throw new Error(describeConvergence(st.name, r.converge).join("\n"));
      hashes[st.name] = r.hash;
    }
    for (const old of olds?.stacks ?? []) {
      if (!news.stacks.some((n) => n.name === old.name)) await removeStack(s, old.name, (line) => console.log(line));
    }
  } finally {
    s.close();
  }
  return { ...news, hashes, generatedSecrets: generated };
}

export const stacksProvider: dynamic.ResourceProvider<StacksProviderInputs, StacksProviderOutputs> = {
  async diff(_id, olds, news) {
    const key = (x: StacksProviderInputs) => JSON.stringify([x.stacks, x.inventory, x.localImage ?? null]);
    return { changes: key(olds) !== key(news), replaces: [], deleteBeforeReplace: false };
  },
  async create(inputs) {
    return { id: `stacks-${inputs.stacks.map((s) => s.name).join("-") || "none"}`, outs: await apply(inputs) };
  },
  async update(_id, olds, news) {
    return { outs: await apply(news, olds) };
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
