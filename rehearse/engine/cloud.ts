/**
 * What the engine stand-in calls in place of a cloud provider plugin: one `ResourceKind` per
 * resource type (create, update in place, delete), and the provider's rule of which inputs cannot
 * change in place.
 *
 * `apiObject` stands for a resource that is only a record in the cloud's API (an SSH key, a
 * placement group): its outputs are its inputs. Resources with an effect on this machine (a
 * server is a VM) get their own kind (the Hetzner model: ../hetzner/). Nothing here knows a provider.
 */
import type { Props } from "./properties";

export interface KindContext {
  /** The resource's URN and logical name. */
  readonly urn: string;
  readonly name: string;
  /** Outputs (plain) of another resource of this stack by type and id, as the cloud's API would return it. */
  lookup(type: string, id: string): Props | undefined;
  /** Progress lines, shown as the resource's diagnostics. */
  log(line: string): void;
}

export interface ResourceKind {
  /** Inputs whose change replaces the resource (the provider's ForceNew). */
  readonly replaceOnChange: readonly string[];
  /**
   * Whether a replacement must delete the old resource before creating the new one, as a bridged
   * provider does when the inputs fix what must be unique (a name set explicitly). Default: never.
   */
  deleteBeforeReplace?(inputs: Props): boolean;
  /** Inputs are plain (secrets unwrapped); outputs include the inputs, as a bridged provider's do. */
  create(inputs: Props, ctx: KindContext): Promise<{ id: string; outputs: Props }>;
  /** Default: the new inputs over the old outputs. */
  update?(id: string, olds: Props, news: Props, ctx: KindContext): Promise<Props>;
  /** Default: nothing to undo. */
  delete?(id: string, outputs: Props, ctx: KindContext): Promise<void>;
}

/** A resource as the cloud's API would list it: type, id and plain outputs. */
export interface HeldResource {
  readonly type: string;
  readonly id: string;
  readonly outputs: Props;
}

/** Resource type → kind; a type without one is refused, so nothing is silently faked. */
export interface Cloud {
  kindOf(type: string): ResourceKind | undefined;
  /**
   * A provider function (an invoke, e.g. `hcloud:index/getServers:getServers`) answered from what the
   * cloud holds now; undefined for a function it does not model, which the engine then refuses.
   */
  invoke?(token: string, args: Props, held: readonly HeldResource[]): Props | undefined;
}

/** A record in the cloud's API: ids from `nextId`, outputs = inputs (plus `extra`). */
export function apiObject(
  replaceOnChange: readonly string[],
  nextId: (inputs: Props, ctx: KindContext) => string,
  extra: (inputs: Props) => Props = () => ({}),
  deleteBeforeReplace?: (inputs: Props) => boolean,
): ResourceKind {
  return {
    replaceOnChange,
    ...(deleteBeforeReplace ? { deleteBeforeReplace } : {}),
    async create(inputs, ctx) {
      return { id: nextId(inputs, ctx), outputs: { ...inputs, ...extra(inputs) } };
    },
    async update(_id, olds, news) {
      return { ...olds, ...news, ...extra(news) };
    },
  };
}
