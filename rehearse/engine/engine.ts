/**
 * The engine stand-in: what `pulumi up` does between the program and the providers, run under
 * `pulumi.runtime.setMocks`. For every resource the program registers it decides, from the last
 * checkpoint, whether to create, keep, update or replace it (decide.ts), runs that through the
 * cloud's stand-in (cloud.ts) or the resource's own dynamic provider (dynamic-host.ts), and writes
 * the checkpoint after every operation. After the program, `finish` deletes what it no longer
 * registers, dependents first, with the provider each was created by.
 *
 * Like the engine: providers see plaintext; outputs of secret inputs and `additionalSecretOutputs`
 * are secret again in state; once one operation fails, nothing new is started and nothing deleted.
 */
import type { Checkpoint, CheckpointStore, ResourceRecord } from "./checkpoint";
import type { Cloud, KindContext } from "./cloud";
import { type Decision, diffByInputs, diffByProvider } from "./decide";
import { deleteResources } from "./delete";
import { capturing, type DynamicProvider, isDynamic, PROVIDER_KEY, providerFrom } from "./dynamic-host";
import { type Props, secretKeys, unwrapProps, withSecrets } from "./properties";

export type OperationKind = "create" | "same" | "update" | "replace" | "delete";

/** One step of the run, as `pulumi up` lists them. */
export interface Operation {
  readonly op: OperationKind;
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  /** Wall time of the provider call(s). */
  readonly ms: number;
  /** Inputs that changed (update, replace). */
  readonly changed?: readonly string[];
  /** A replacement that deleted the old resource before creating the new one. */
  readonly deletedFirst?: boolean;
  /** What the provider printed, line by line. */
  readonly diagnostics: readonly string[];
  readonly error?: string;
}

/** What the monitor saw for one registration besides its inputs. */
export interface Registration {
  readonly urn: string;
  readonly parent: string;
  readonly dependencies: readonly string[];
  readonly additionalSecretOutputs: readonly string[];
  readonly deleteBeforeReplace: boolean;
  /** Top-level inputs whose changes are ignored: Pulumi keeps the prior value (state and diff alike). */
  readonly ignoreChanges?: readonly string[];
}

export interface EngineOptions {
  readonly cloud: Cloud;
  readonly store: CheckpointStore;
  /** Package root: rebuilt providers resolve their require()s from here. */
  readonly root: string;
  /** Dynamic types whose providers run for real. Default: all. */
  readonly runsForReal?: (type: string) => boolean;
  /** State of a dynamic resource that does not run for real. Default: its inputs. */
  readonly dynamicStandIn?: (args: {
    type: string;
    name: string;
    inputs: Props;
    provider: string;
  }) => Promise<Props> | Props;
  /** Each finished operation, and each diagnostic line as it is printed. Default: none. */
  readonly onOperation?: (op: Operation) => void;
  readonly onDiagnostic?: (name: string, line: string) => void;
}

export class MockEngine {
  readonly operations: Operation[] = [];
  /** Records registered in this run, by URN, in registration order. */
  readonly current = new Map<string, ResourceRecord>();
  private readonly prior: Checkpoint;
  private readonly priorByUrn: Map<string, ResourceRecord>;
  /** Old records waiting to be deleted: replaced (create before delete) ones. */
  private readonly replaced: ResourceRecord[] = [];
  private readonly deleted = new Set<ResourceRecord>();
  private failure: string | undefined;
  private stackOutputs: Props;
  /** Operations still running, so a failed run can wait for them before it writes its checkpoint. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly failureListeners: Array<() => void> = [];

  constructor(readonly o: EngineOptions) {
    this.prior = o.store.load();
    this.priorByUrn = new Map(this.prior.resources.filter((r) => !r.delete).map((r) => [r.urn, r]));
    this.stackOutputs = this.prior.outputs;
  }

  /** The first failure of this run, if any. */
  get failed(): string | undefined {
    return this.failure;
  }

  /** Resolves at the run's first failure. */
  whenFailed(): Promise<void> {
    return new Promise((resolve) => (this.failure ? resolve() : this.failureListeners.push(resolve)));
  }

  /** Resolves once no operation is running. */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  /** Handles one registration; returns what the monitor hands back to the program. */
  async register(
    reg: Registration,
    type: string,
    name: string,
    custom: boolean,
    given: Props,
  ): Promise<{ id: string; state: Props }> {
    const prior = this.priorByUrn.get(reg.urn);
    const kept = prior ? (reg.ignoreChanges ?? []).filter((k) => k in prior.inputs) : [];
    const inputs: Props = kept.length
      ? { ...given, ...Object.fromEntries(kept.map((k) => [k, prior!.inputs[k]])) }
      : given;
    const base = { urn: reg.urn, type, name, custom, inputs, dependencies: reg.dependencies, parent: reg.parent };
    if (!custom) {
      this.record({ ...base, id: "", outputs: inputs });
      return { id: "", state: inputs };
    }
    if (this.failure) throw new Error(`${name} was not attempted: ${this.failure}`);
    const work = this.registerCustom(reg, type, name, inputs, base);
    this.inFlight.add(work);
    try {
      return await work;
    } finally {
      this.inFlight.delete(work);
    }
  }

  private async registerCustom(
    reg: Registration,
    type: string,
    name: string,
    inputs: Props,
    base: Omit<ResourceRecord, "id" | "outputs">,
  ): Promise<{ id: string; state: Props }> {
    const lines: string[] = [];
    const started = Date.now();
    let decision: Decision = { kind: "create" };
    try {
      const { id, outputs, decided } = await capturing(
        (line) => {
          lines.push(line);
          this.o.onDiagnostic?.(name, line);
        },
        () => this.apply(reg, type, name, inputs),
      );
      decision = decided;
      const secret = withSecrets(outputs, [...secretKeys(inputs), ...reg.additionalSecretOutputs]);
      this.record({ ...base, id, outputs: secret });
      this.operation({
        op: decision.kind,
        urn: reg.urn,
        type,
        name,
        ms: Date.now() - started,
        ...("changed" in decision ? { changed: decision.changed } : {}),
        ...(decision.kind === "replace"
          ? { deletedFirst: decision.deleteBeforeReplace || reg.deleteBeforeReplace }
          : {}),
        diagnostics: lines,
      });
      return { id, state: secret };
    } catch (err) {
      const message = (err as Error).message;
      this.failWith(`${type} ${name} failed: ${message.split("\n")[0]}`);
      this.operation({
        op: decision.kind,
        urn: reg.urn,
        type,
        name,
        ms: Date.now() - started,
        diagnostics: lines,
        error: message,
      });
      throw err;
    }
  }

  private async apply(
    reg: Registration,
    type: string,
    name: string,
    inputs: Props,
  ): Promise<{ id: string; outputs: Props; decided: Decision }> {
    const prior = this.priorByUrn.get(reg.urn);
    if (isDynamic(type) && (this.o.runsForReal?.(type) ?? true)) return this.applyDynamic(prior, inputs, reg);
    if (isDynamic(type)) {
      const standIn = this.o.dynamicStandIn ?? (({ inputs: i }) => i);
      const state = await standIn({ type, name, inputs: unwrapProps(inputs), provider: String(inputs[PROVIDER_KEY]) });
      return {
        id: prior?.id ?? `${name}-id`,
        outputs: { ...state, [PROVIDER_KEY]: inputs[PROVIDER_KEY] },
        decided: prior ? diffByInputs(prior.inputs, inputs, []) : { kind: "create" },
      };
    }
    const kind = this.o.cloud.kindOf(type);
    if (!kind)
      throw new Error(
        `the rehearsal has no stand-in for ${type} (${name}); add one in rehearse/ before the program uses it`,
      );
    const ctx = this.context(reg.urn, name);
    const decided = prior
      ? diffByInputs(
          prior.inputs,
          inputs,
          kind.replaceOnChange,
          reg.deleteBeforeReplace || (kind.deleteBeforeReplace?.(unwrapProps(inputs)) ?? false),
        )
      : ({ kind: "create" } as const);
    const news = unwrapProps(inputs);
    switch (decided.kind) {
      case "same":
        return { id: prior!.id, outputs: prior!.outputs, decided };
      case "update": {
        const olds = unwrapProps(prior!.outputs);
        return {
          id: prior!.id,
          outputs: kind.update ? await kind.update(prior!.id, olds, news, ctx) : { ...olds, ...news },
          decided,
        };
      }
      case "replace":
        if (decided.deleteBeforeReplace) await this.deleteNow(prior!);
        else this.replaced.push(prior!);
        return { ...(await kind.create(news, ctx)), decided };
      case "create":
        return { ...(await kind.create(news, ctx)), decided };
    }
  }

  private async applyDynamic(
    prior: ResourceRecord | undefined,
    inputs: Props,
    reg: Registration,
  ): Promise<{ id: string; outputs: Props; decided: Decision }> {
    const source = String(inputs[PROVIDER_KEY]);
    const provider = providerFrom(source, this.o.root);
    const plain = (p: Props) => Object.fromEntries(Object.entries(unwrapProps(p)).filter(([k]) => k !== PROVIDER_KEY));
    let news = plain(inputs);
    if (provider.check) {
      const checked = await provider.check(prior ? plain(prior.inputs) : {}, news);
      const failures = checked.failures ?? [];
      if (failures.length)
        throw new Error(`invalid inputs:\n${failures.map((f) => `  - ${f.property}: ${f.reason}`).join("\n")}`);
      news = checked.inputs ? plain(checked.inputs) : news;
    }
    const withProvider = (outs: Props | undefined) => ({ ...(outs ?? {}), [PROVIDER_KEY]: source });
    const create = async () => {
      const r = await provider.create(news);
      return { id: r.id, outputs: withProvider(r.outs) };
    };
    if (!prior) return { ...(await create()), decided: { kind: "create" } };
    const decided = provider.diff
      ? diffByProvider(await provider.diff(prior.id, plain(prior.outputs), news), prior.inputs, inputs)
      : diffByInputs(prior.inputs, inputs, [], reg.deleteBeforeReplace);
    switch (decided.kind) {
      case "same":
        return { id: prior.id, outputs: prior.outputs, decided };
      case "update": {
        const r = provider.update ? await provider.update(prior.id, plain(prior.outputs), news) : { outs: news };
        return { id: prior.id, outputs: withProvider(r?.outs), decided };
      }
      case "replace":
        if (decided.deleteBeforeReplace || reg.deleteBeforeReplace) await this.deleteNow(prior);
        else this.replaced.push(prior);
        return { ...(await create()), decided };
      case "create":
        return { ...(await create()), decided };
    }
  }

  /** Deletes `r` right away (delete before replace), with the provider it was created by. */
  private async deleteNow(r: ResourceRecord): Promise<void> {
    await deleteOne(this, r);
    this.deleted.add(r);
    this.save();
  }

  /**
   * A provider function (invoke), answered by the cloud from what it holds now: the resources of
   * the last checkpoint that are not deleted, as updated by this run so far.
   */
  invoke(token: string, args: Props): Props {
    const held = new Map<string, ResourceRecord>();
    for (const r of this.prior.resources) if (!r.delete && !this.deleted.has(r)) held.set(r.urn, r);
    for (const r of this.current.values()) held.set(r.urn, r);
    const answer = this.o.cloud.invoke?.(
      token,
      unwrapProps(args),
      [...held.values()]
        .filter((r) => r.custom)
        .map((r) => ({ type: r.type, id: r.id, outputs: unwrapProps(r.outputs) })),
    );
    if (!answer) throw new Error(`the rehearsal has no stand-in for the function ${token}`);
    return answer;
  }

  /** Sets the stack's outputs (secrets wrapped), as the root stack's registerOutputs does. */
  setStackOutputs(outputs: Props): void {
    this.stackOutputs = outputs;
    this.save();
  }

  /**
   * After the program: deletes what it no longer registers (and replaced resources), dependents
   * first; nothing when the run has failed, as Pulumi stops at the first error.
   */
  async finish(): Promise<void> {
    if (!this.failure) {
      const orphans = this.prior.resources.filter(
        (r) => !this.deleted.has(r) && (r.delete || !this.current.has(r.urn)),
      );
      await deleteResources(this, orphans, [...this.current.values()], this.replaced);
    }
    this.save();
  }

  context(urn: string, name: string): KindContext {
    return {
      urn,
      name,
      lookup: (type, id) => {
        const r = [...this.current.values(), ...this.priorByUrn.values()].find((x) => x.type === type && x.id === id);
        return r ? unwrapProps(r.outputs) : undefined;
      },
      log: (line) => console.log(line),
    };
  }

  /** Notes a finished delete (delete.ts) and writes the checkpoint. */
  markDeleted(r: ResourceRecord): void {
    this.deleted.add(r);
    this.save();
  }

  failWith(message: string): void {
    if (this.failure) return;
    this.failure = message;
    this.failureListeners.splice(0).forEach((l) => l());
  }

  operation(op: Operation): void {
    this.operations.push(op);
    this.o.onOperation?.(op);
  }

  private record(r: ResourceRecord): void {
    this.current.set(r.urn, r);
    this.save();
  }

  /** The checkpoint now: this run's records, then old ones not deleted yet (replaced ones marked). */
  snapshot(): Checkpoint {
    const left = this.prior.resources.filter((r) => !this.deleted.has(r) && (r.delete || !this.current.has(r.urn)));
    const replaced = this.replaced.filter((r) => !this.deleted.has(r)).map((r) => ({ ...r, delete: true as const }));
    return { resources: [...this.current.values(), ...left, ...replaced], outputs: this.stackOutputs };
  }

  private save(): void {
    this.o.store.save(this.snapshot());
  }
}

/** Deletes one resource through its kind or its own (old) dynamic provider; records the operation. */
export async function deleteOne(engine: MockEngine, r: ResourceRecord): Promise<void> {
  if (!r.custom) return;
  const lines: string[] = [];
  const started = Date.now();
  const op = { op: "delete" as const, urn: r.urn, type: r.type, name: r.name };
  try {
    await capturing(
      (line) => {
        lines.push(line);
        engine.o.onDiagnostic?.(r.name, line);
      },
      async () => {
        if (isDynamic(r.type)) {
          if (!(engine.o.runsForReal?.(r.type) ?? true)) return;
          const provider: DynamicProvider = providerFrom(
            String(r.outputs[PROVIDER_KEY] ?? r.inputs[PROVIDER_KEY]),
            engine.o.root,
          );
          const props = Object.fromEntries(Object.entries(unwrapProps(r.outputs)).filter(([k]) => k !== PROVIDER_KEY));
          await provider.delete?.(r.id, props);
          return;
        }
        const kind = engine.o.cloud.kindOf(r.type);
        if (!kind) throw new Error(`the rehearsal has no stand-in for ${r.type} (${r.name}) to delete it with`);
        await kind.delete?.(r.id, unwrapProps(r.outputs), engine.context(r.urn, r.name));
      },
    );
    engine.operation({ ...op, ms: Date.now() - started, diagnostics: lines });
  } catch (err) {
    engine.operation({ ...op, ms: Date.now() - started, diagnostics: lines, error: (err as Error).message });
    throw err;
  }
}
