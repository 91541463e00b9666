/**
 * Runs the real Pulumi program (infra/index.ts) under pulumi.runtime.setMocks, once per call, each
 * time with a fresh module registry and a fresh Pulumi runtime store, so one test file can run
 * several configs (e.g. workers=2 then workers=3) and compare them.
 *
 * The mocks stand in for the engine and Hetzner:
 * - ids are numeric strings derived from type and name (stable across runs, as in real state);
 * - servers get plausible public IPv4/IPv6 addresses derived from their name;
 * - our dynamic resources run for real: the serialized provider (`__provider`) is rebuilt with
 *   require-from-string and its create() called, as Pulumi's provider host does, which also proves
 *   that it survives serialization. Their state persists across runs in this process, like a stack's
 *   state between two `pulumi up`s, and the provider's diff() decides whether it is kept;
 * - like the engine, outputs named in additionalSecretOutputs, and outputs whose input was secret,
 *   come back as secrets;
 * - dynamic resources this harness does not know (added by later modules) get state = inputs,
 *   unless a handler is registered in `dynamicMocks`.
 */
import * as crypto from "crypto";
import * as path from "path";
import requireFromString from "require-from-string";
import type * as PulumiModule from "@pulumi/pulumi";

type Pulumi = typeof PulumiModule;
type Props = Record<string, unknown>;

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  state: Record<string, unknown>;
}

export interface ProgramRun {
  /** Every registered resource, in registration order; inputs and state with secrets unwrapped. */
  readonly resources: RecordedResource[];
  /** The program's exports, resolved, secrets unwrapped. */
  readonly outputs: Record<string, unknown>;
  /** Names of the exports that are secret. */
  readonly secretOutputs: string[];
  /** "type::name" → input keys that reached the engine as secrets. */
  readonly secretInputs: Record<string, string[]>;
  /** "type::name" → the resource's additionalSecretOutputs. */
  readonly additionalSecretOutputs: Record<string, string[]>;
}

/** Handles one dynamic resource type in the mocks: return the state to report. */
export type DynamicMock = (args: { name: string; inputs: Props; provider: string }) => Promise<Props> | Props;
/** Dynamic resource type → mock. Types without one get state = inputs. */
export const dynamicMocks = new Map<string, DynamicMock>();

export const PROJECT = "hcloud-swarm";
export const STACK = "dev";
const REPO = path.resolve(__dirname, "../..");
const PROGRAM = path.join(REPO, "infra", "index.ts");
const SDK_SETTINGS = "@pulumi/pulumi/runtime/settings";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";
/** Our dynamic resources, which the harness runs for real. */
const REAL_DYNAMIC = new Set(["pulumi-nodejs:dynamic/hcloud-swarm:SshKeyPair"]);

/** State of real dynamic resources, kept across runs like a stack's state: "type::name" → outs. */
const persisted = new Map<string, { inputs: Props; id: string; outs: Props }>();

let lastResources: RecordedResource[] = [];
/** The resources registered by the latest run, also when it threw (e.g. to check a bad config created nothing). */
export function resourcesOfLastRun(): RecordedResource[] {
  return lastResources;
}

/** Forgets the persisted dynamic-resource state, as for a brand-new stack. */
export function forgetState(): void {
  persisted.clear();
}

function hash(text: string): Buffer {
  return crypto.createHash("sha256").update(text).digest();
}

function numericId(type: string, name: string): string {
  return String(10_000_000 + (hash(`${type}::${name}`).readUInt32BE(0) % 90_000_000));
}

function isSecretValue(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as Props)[SIG_KEY] === SECRET_SIG;
}

function secret(value: unknown): Props {
  return { [SIG_KEY]: SECRET_SIG, value };
}

/** Unwraps secrets at any depth. */
function unwrap(v: unknown): unknown {
  if (isSecretValue(v)) return unwrap(v.value);
  if (Array.isArray(v)) return v.map(unwrap);
  if (typeof v === "object" && v !== null && !(SIG_KEY in v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
  return v;
}

function serverAddresses(name: string): Props {
  const h = hash(name);
  const hex = (i: number) => h.readUInt16BE(i).toString(16);
  return {
    ipv4Address: `116.203.${h[0]}.${(h[1] % 253) + 2}`,
    ipv6Address: `2a01:4f8:c17:${hex(2)}::1`,
    ipv6Network: `2a01:4f8:c17:${hex(2)}::/64`,
    status: "running",
  };
}

async function realDynamic(key: string, inputs: Props): Promise<{ id: string; outs: Props }> {
  const source = String(inputs.__provider);
  const provider = (requireFromString(source, path.join(REPO, "__provider.js")) as { handler: () => Record<string, (...a: unknown[]) => Promise<Props>> }).handler();
  const news = unwrap(Object.fromEntries(Object.entries(inputs).filter(([k]) => k !== "__provider"))) as Props;
  const prior = persisted.get(key);
  if (prior) {
    const diff = provider.diff ? await provider.diff(prior.id, prior.outs, news) : { changes: true };
    if (!diff.changes) return prior;
  }
  const created = (await provider.create(news)) as { id: string; outs: Props };
  persisted.set(key, { inputs: news, ...created });
  return created;
}

/** Runs infra/index.ts with the given `hcloud-swarm:` config (bare keys; "ns:key" keys pass as is). */
export async function runProgramDetailed(config: Record<string, unknown>): Promise<ProgramRun> {
  const resources: RecordedResource[] = (lastResources = []);
  const secretInputs: Record<string, string[]> = {};
  const additionalSecretOutputs: Record<string, string[]> = {};
  let outputs: Props = {};
  const secretOutputs: string[] = [];

  // A fresh runtime store per run: the SDK keeps monitor, config and stack in a global.
  delete (global as { globalStore?: unknown }).globalStore;
  // Each fresh SDK copy adds process listeners; drop them after the run so runs do not pile up.
  const events = ["exit", "beforeExit", "uncaughtException", "unhandledRejection"] as const;
  const emitter = process as unknown as NodeJS.EventEmitter;
  const listenersBefore = new Map(events.map((e) => [e, new Set(emitter.listeners(e))]));
  try {
    await runIsolated();
  } finally {
    for (const e of events) for (const l of emitter.listeners(e)) if (!listenersBefore.get(e)?.has(l)) emitter.removeListener(e, l as (...a: unknown[]) => void);
  }
  return { resources, outputs, secretOutputs, secretInputs, additionalSecretOutputs };

  async function runIsolated(): Promise<void> {
    await jest.isolateModulesAsync(async () => {
      // Imported inside the isolated registry: a fresh SDK (and @pulumi/hcloud) for every run.
      const pulumi: Pulumi = await import("@pulumi/pulumi");
      await pulumi.runtime.setMocks(
        {
          async newResource(args) {
            const key = `${args.type}::${args.name}`;
            const inputs = args.inputs as Props;
            const secretKeys = Object.keys(inputs).filter((k) => isSecretValue(inputs[k]));
            if (secretKeys.length) secretInputs[key] = secretKeys;
            let id = numericId(args.type, args.name);
            let state: Props = { ...inputs };
            if (args.type === "hcloud:index/server:Server") state = { ...state, ...serverAddresses(String(unwrap(inputs.name) ?? args.name)) };
            if (REAL_DYNAMIC.has(args.type)) {
              const r = await realDynamic(key, inputs);
              [id, state] = [r.id, { ...r.outs, __provider: inputs.__provider }];
            } else if (args.type.startsWith("pulumi-nodejs:dynamic")) {
              const mock = dynamicMocks.get(args.type);
              if (mock) state = { ...(await mock({ name: args.name, inputs: unwrap(inputs) as Props, provider: String(inputs.__provider) })), __provider: inputs.__provider };
            }
            // As the engine does: outputs of secret inputs, and additionalSecretOutputs, stay secret.
            for (const k of [...secretKeys, ...(additionalSecretOutputs[key] ?? [])]) {
              if (k in state && !isSecretValue(state[k])) state[k] = secret(state[k]);
            }
            // The recorded state carries the id, so tests can follow references (firewallIds, subnetId…).
            resources.push({ type: args.type, name: args.name, inputs: unwrap(inputs) as Props, state: { ...(unwrap(state) as Props), ...(args.custom ? { id } : {}) } });
            return { id: args.custom ? id : "", state };
          },
          call(args) {
            return args.inputs;
          },
        },
        PROJECT,
        STACK,
        false,
      );
      // The mocks do not see registration options; read additionalSecretOutputs off the request.
      const monitor = pulumi.runtime.getMonitor() as unknown as { registerResource: (req: RegisterRequest, cb: unknown) => unknown };
      const register = monitor.registerResource.bind(monitor);
      monitor.registerResource = (req, cb) => {
        const list = req.getAdditionalsecretoutputsList();
        if (list.length) additionalSecretOutputs[`${req.getType()}::${req.getName()}`] = list;
        return register(req, cb);
      };
      pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [k.includes(":") ? k : `${PROJECT}:${k}`, typeof v === "string" ? v : JSON.stringify(v)])));

      const program = (await import(PROGRAM)) as Record<string, unknown>;
      for (const [name, value] of Object.entries(program)) {
        if (!pulumi.Output.isInstance(value)) continue;
        outputs[name] = await new Promise((resolve) => value.apply(resolve));
        if (await pulumi.isSecret(value)) secretOutputs.push(name);
      }
      outputs = unwrap(outputs) as Props;
      // waitForRPCs is internal to the SDK (not in its typings); it drains pending registrations.
      const settings = (await import(SDK_SETTINGS)) as { waitForRPCs: () => Promise<void> };
      await settings.waitForRPCs();
    });
  }
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getAdditionalsecretoutputsList(): string[];
}

/** Runs infra/index.ts under mocks with the given config and returns every resource it registered. */
export async function runProgram(config: Record<string, unknown>): Promise<Array<{ type: string; name: string; inputs: Record<string, unknown>; state: Record<string, unknown> }>> {
  return (await runProgramDetailed(config)).resources;
}
