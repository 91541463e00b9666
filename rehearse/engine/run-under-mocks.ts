/**
 * Runs a Pulumi program once under `pulumi.runtime.setMocks`, the way the Node.js language host
 * runs it for `pulumi up`: inside the root stack resource (`runInPulumiStack`), whose registered
 * outputs are the stack's outputs, with every registration handed to the engine stand-in
 * (engine.ts). Used by `npm run rehearse` (one fresh process per run) and by the jest harness
 * test/support/pulumi.ts (one isolated module registry per run): the caller passes the SDK
 * instance and a loader, so the program and this runner share one SDK.
 */
import type * as PulumiModule from "@pulumi/pulumi";
import type { MockEngine, Registration } from "./engine";
import type { Props } from "./properties";
import { requireSupportedSdk } from "./sdk-version";

type Pulumi = typeof PulumiModule;

export interface RunOptions {
  /** The SDK instance the program will import. */
  readonly pulumi: Pulumi;
  /** Imports the program; resources are registered while it loads. */
  readonly loadProgram: () => Promise<unknown>;
  /** Full config keys ("hcloud-swarm:workers") → string values, as `pulumi config` stores them. */
  readonly config: Readonly<Record<string, string>>;
  readonly project: string;
  readonly stack: string;
  readonly engine: MockEngine;
  /** Stack transformations registered before the program runs. Default: none. */
  readonly transformations?: readonly PulumiModule.ResourceTransformation[];
}

/** Per registration, what the recorded-resource view of a run shows (tests use it). */
export interface RegisteredResource {
  readonly type: string;
  readonly name: string;
  readonly custom: boolean;
  readonly inputs: Props;
  readonly state: Props;
  readonly id: string;
  readonly additionalSecretOutputs: readonly string[];
}

export interface RunResult {
  /** Every resource the program registered, in order (the root stack excluded). */
  readonly registered: RegisteredResource[];
  /** The stack's outputs, secrets wrapped. */
  readonly outputs: Props;
  /** The program's error, or the first failed operation; undefined on success. */
  readonly error?: Error;
}

/** Registration options the engine stand-in does not model; a program using one is refused. */
const UNMODELLED: ReadonlyArray<[string, (r: RegisterRequest) => boolean]> = [
  ["protect", (r) => r.getProtect() === true],
  ["retainOnDelete", (r) => r.getRetainondelete() === true],
  // ignoreChanges is modelled for top-level properties only (the engine keeps the prior value).
  ["ignoreChanges on a nested property", (r) => r.getIgnorechangesList().some((p) => /[.[]/.test(p))],
  ["replaceOnChanges", (r) => r.getReplaceonchangesList().length > 0],
  ["deletedWith", (r) => r.getDeletedwith() !== ""],
];

export const ROOT_STACK_TYPE = "pulumi:pulumi:Stack";

export async function runUnderMocks(o: RunOptions): Promise<RunResult> {
  requireSupportedSdk();
  const { pulumi, engine } = o;
  const registrations = new Map<string, Registration>();
  const registered: RegisteredResource[] = [];
  let rootUrn = "";

  await pulumi.runtime.setMocks(
    {
      async newResource(args) {
        const key = `${args.type}::${args.name}`;
        const reg = registrations.get(key);
        if (!reg) throw new Error(`internal: no registration seen for ${key}`);
        const inputs = args.inputs as Props;
        const r = await engine.register(reg, args.type, args.name, args.custom !== false, inputs);
        if (args.type !== ROOT_STACK_TYPE) {
          registered.push({
            type: args.type,
            name: args.name,
            custom: args.custom !== false,
            inputs,
            state: r.state,
            id: r.id,
            additionalSecretOutputs: reg.additionalSecretOutputs,
          });
        }
        return { id: r.id, state: r.state };
      },
      call(args) {
        return engine.invoke(args.token, args.inputs as Props);
      },
    },
    o.project,
    o.stack,
    false,
  );

  // The mocks see neither the URN nor the options; read them off the request first.
  const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    const key = `${req.getType()}::${req.getName()}`;
    const urn = monitor.newUrn(req.getParent(), req.getType(), req.getName());
    const used = UNMODELLED.filter(([, f]) => f(req)).map(([n]) => n);
    if (registrations.has(key) || used.length) {
      const why = used.length
        ? `uses ${used.join(", ")}, which the rehearsal's engine does not model`
        : "is registered twice";
      return cb(new Error(`${key} ${why}`), undefined);
    }
    if (req.getType() === ROOT_STACK_TYPE) rootUrn = urn;
    registrations.set(key, {
      urn,
      parent: req.getParent(),
      dependencies: req.getDependenciesList(),
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      deleteBeforeReplace: req.getDeletebeforereplace(),
      ignoreChanges: req.getIgnorechangesList(),
    });
    return register(req, cb);
  };
  const registerOutputs = monitor.registerResourceOutputs.bind(monitor);
  monitor.registerResourceOutputs = (req, cb) => {
    if (req.getUrn() === rootUrn)
      engine.setStackOutputs(
        pulumi.runtime.deserializeProperties(
          req.getOutputs() as Parameters<Pulumi["runtime"]["deserializeProperties"]>[0],
        ) as Props,
      );
    return registerOutputs(req, cb);
  };
  pulumi.runtime.setAllConfig({ ...o.config });

  let error: Error | undefined;
  // A failed registration rejects promises inside the SDK that nothing awaits. Like the language
  // host (and the automation API's inline-program server), this run listens for unhandled
  // rejections while the program runs: they fail the run.
  const stray = (reason: unknown) => {
    error ??= reason instanceof Error ? reason : new Error(String(reason));
    engine.failWith(`the program failed: ${error.message.split("\n")[0]}`);
  };
  process.on("unhandledRejection", stray);
  // The root stack's init must not reject: the SDK would leave the rejection unhandled. So the
  // program's error, or a failed export, is kept here, and the stack gets no outputs.
  const stackDone = pulumi.runtime.runInPulumiStack(async () => {
    try {
      for (const t of o.transformations ?? []) pulumi.runtime.registerStackTransformation(t);
      const exports = await programExports(await o.loadProgram());
      // Every export is awaited, as the language host serializes them all: one failed value fails
      // several exports, and each rejection must be handled here, not left to the process.
      const settled = await Promise.allSettled(
        Object.values(exports)
          .filter((value) => pulumi.Output.isInstance(value))
          .map((value) => (value as unknown as { promise(): Promise<unknown> }).promise()),
      );
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
      return exports;
    } catch (err) {
      error ??= err as Error;
      return {};
    }
  });
  await Promise.race([stackDone, engine.whenFailed()]);
  // Internal to the SDK (not in its typings): drains registrations still in flight. After a
  // failure it may never return (registrations whose inputs failed never finish; the language
  // host exits instead), so then only the operations already running are waited for.
  const drained = (pulumi.runtime as unknown as { waitForRPCs: () => Promise<void> })
    .waitForRPCs()
    .catch((err: Error) => void (error ??= err));
  await Promise.race([drained, engine.whenFailed()]);
  await engine.idle();
  // Rejections are reported unhandled only after the microtasks have run.
  await new Promise((resolve) => setImmediate(resolve));
  process.off("unhandledRejection", stray);
  if (error) engine.failWith(`the program failed: ${error.message.split("\n")[0]}`);
  await engine.finish();
  // The first failure is the cause: an operation's, or else the program's own error.
  const failed = engine.failed;
  const failure =
    failed === undefined ? undefined : error && failed.startsWith("the program failed") ? error : new Error(failed);
  return { registered, outputs: engine.snapshot().outputs, ...(failure ? { error: failure } : {}) };
}

/**
 * What the program exports, as the language host reads it: a module whose only export is a
 * function (`export =`, or `default`) is the program's body and is called and awaited; its result
 * is the stack's outputs.
 */
async function programExports(loaded: unknown): Promise<Record<string, unknown>> {
  let value = loaded;
  const m = value as Record<string, unknown> | undefined;
  // An `export =` function reaches us through esModuleInterop as {default: fn}, with the
  // function's own properties (length, name) copied next to it.
  const fn = m && typeof m === "object" ? m.default : undefined;
  if (
    typeof fn === "function" &&
    Object.keys(m as object).every((k) => k === "default" || (m as Props)[k] === (fn as unknown as Props)[k])
  )
    value = fn;
  if (typeof value === "function") value = await (value as () => unknown)();
  return (value ?? {}) as Record<string, unknown>;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getAdditionalsecretoutputsList(): string[];
  getDeletebeforereplace(): boolean;
  getProtect(): boolean | undefined;
  getRetainondelete(): boolean | undefined;
  getIgnorechangesList(): string[];
  getReplaceonchangesList(): string[];
  getDeletedwith(): string;
}

interface MonitorLike {
  newUrn(parent: string, type: string, name: string): string;
  registerResource(req: RegisterRequest, cb: (err: Error | null, resp: unknown) => void): unknown;
  registerResourceOutputs(
    req: { getUrn(): string; getOutputs(): unknown },
    cb: (err: Error | null, resp: unknown) => void,
  ): unknown;
}
