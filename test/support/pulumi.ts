/**
 * Runs the real Pulumi program (infra/index.ts) under pulumi.runtime.setMocks, once per call, each
 * time with a fresh module registry and a fresh Pulumi runtime store, so one test file can run
 * several configs (e.g. workers=2 then workers=3) and compare them.
 *
 * The engine is the rehearsal's stand-in (rehearse/engine/: engine.ts, run-under-mocks.ts): state is
 * kept across runs in this process like a stack's checkpoint between two `pulumi up`s
 * (`forgetState` starts a new stack), providers' diffs decide what is kept, and outputs of secret
 * inputs and additionalSecretOutputs come back as secrets. The cloud is paper here:
 * - ids are numeric strings derived from type and name (stable across runs, as in real state);
 * - servers get plausible public IPv4/IPv6 addresses derived from their name;
 * - SshKeyPair and StackSecrets run for real (their serialized providers rebuilt with require-from-string);
 * - other dynamic resources (SwarmNode, Stacks) need real hosts: their state is their inputs, unless
 *   a handler is registered in `dynamicMocks`.
 * `npm run rehearse` runs the same engine with servers booted as VMs.
 */
import * as crypto from "crypto";
import * as path from "path";
import type * as PulumiModule from "@pulumi/pulumi";
import { type Checkpoint, MemoryStore } from "../../rehearse/engine/checkpoint";
import { apiObject, type Cloud } from "../../rehearse/engine/cloud";
import { HCLOUD_REPLACE_ON_CHANGE, hcloudDeletesFirst } from "../../rehearse/hetzner/replace-on-change";
import { GET_SERVERS, getServers } from "../../rehearse/hetzner/get-servers";
import { MockEngine, type Operation } from "../../rehearse/engine/engine";
import { isSecret, type Props, secretKeys, unwrap, unwrapProps } from "../../rehearse/engine/properties";
import { runUnderMocks } from "../../rehearse/engine/run-under-mocks";

type Pulumi = typeof PulumiModule;

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
/** Our dynamic resources that the harness runs for real (the others need hosts). */
const REAL_DYNAMIC = new Set([
  "pulumi-nodejs:dynamic/hcloud-swarm:SshKeyPair",
  "pulumi-nodejs:dynamic/hcloud-swarm:StackSecrets",
]);
const SERVER = "hcloud:index/server:Server";

/** The checkpoint, kept across runs like a stack's state. */
let store = new MemoryStore();
let lastResources: RecordedResource[] = [];
let lastOperations: Operation[] = [];
let lastLogs: string[] = [];

/** The engine's operations of the latest run (create, same, update, replace, delete), also when it failed. */
export function operationsOfLastRun(): Operation[] {
  return lastOperations;
}

/** What the program logged through pulumi.log in the latest run (info, warn), line by line. */
export function logsOfLastRun(): string[] {
  return lastLogs;
}

/** The checkpoint as it is now, as a stack's state file holds it. */
export function currentState(): Checkpoint {
  return store.load();
}

/** Starts from a given checkpoint, as a stack whose state file holds it (e.g. written by an older release). */
export function useState(checkpoint: Checkpoint): void {
  store = new MemoryStore(checkpoint);
  changedTypes.clear();
}

/** The resources registered by the latest run, also when it threw (e.g. to check a bad config created nothing). */
export function resourcesOfLastRun(): RecordedResource[] {
  return lastResources;
}

/** Forgets the persisted state, as for a brand-new stack. */
export function forgetState(): void {
  store = new MemoryStore();
  changedTypes.clear();
}

function hash(text: string): Buffer {
  return crypto.createHash("sha256").update(text).digest();
}

function numericId(type: string, name: string): string {
  return String(10_000_000 + (hash(`${type}::${name}`).readUInt32BE(0) % 90_000_000));
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

/**
 * Server actions made through Hetzner's API rather than the provider (a NodeRoll's change_type):
 * server id → its type now. The server list answers with it, as Hetzner's would.
 */
const changedTypes = new Map<string, string>();

/** Hetzner's `change_type` action on paper, for a test's stand-in of NodeRoll. */
export function paperChangeType(serverId: string, serverType: string): void {
  changedTypes.set(serverId, serverType);
}

/** Hetzner on paper: every hcloud resource is an API record; servers get addresses from their name. */
const paperCloud: Cloud = {
  kindOf(type) {
    const replace = HCLOUD_REPLACE_ON_CHANGE[type];
    if (!replace) return undefined;
    return apiObject(
      replace,
      (_inputs, ctx) => numericId(type, ctx.name),
      type === SERVER ? (i) => serverAddresses(String(i.name)) : undefined,
      (i) => hcloudDeletesFirst(type, i),
    );
  },
  invoke: (token, args, held) =>
    token === GET_SERVERS
      ? getServers(
          args,
          held.map((r) =>
            changedTypes.has(r.id) ? { ...r, outputs: { ...r.outputs, serverType: changedTypes.get(r.id) } } : r,
          ),
        )
      : undefined,
};

/** The run whose isolated registry is open, if any: set while `withFreshSdk` runs. */
let openRun: { abandoned: boolean } | undefined;

/**
 * Runs `fn` with a fresh Pulumi SDK: a fresh module registry and runtime store, and the process
 * listeners each SDK copy adds removed afterwards, so runs do not pile up.
 *
 * A test that timed out leaves its run pending with jest's isolated registry still open, and every
 * later run in the file then failed with "isolateModulesAsync cannot be nested". So a run that finds
 * an earlier one still open abandons it: `jest.resetModules()` closes its registry, and the
 * abandoned run, should it ever finish, never settles, so its own cleanup cannot close ours.
 */
export async function withFreshSdk<T>(fn: (pulumi: Pulumi) => Promise<T>): Promise<T> {
  if (openRun) {
    openRun.abandoned = true;
    jest.resetModules();
  }
  const run = { abandoned: false };
  openRun = run;
  delete (global as { globalStore?: unknown }).globalStore;
  const events = ["exit", "beforeExit", "uncaughtException", "unhandledRejection"] as const;
  const emitter = process as unknown as NodeJS.EventEmitter;
  const listenersBefore = new Map(events.map((e) => [e, new Set(emitter.listeners(e))]));
  let result: { value: T } | undefined;
  try {
    await jest.isolateModulesAsync(async () => {
      // Imported inside the isolated registry: a fresh SDK (and @pulumi/hcloud) for every run.
      const hang = () => new Promise<never>(() => undefined);
      const value = await fn(await import("@pulumi/pulumi")).catch(async (err: unknown) =>
        run.abandoned ? hang() : Promise.reject(err),
      );
      if (run.abandoned) await hang();
      result = { value };
    });
  } finally {
    if (openRun === run) openRun = undefined;
    for (const e of events)
      for (const l of emitter.listeners(e))
        if (!listenersBefore.get(e)?.has(l)) emitter.removeListener(e, l as (...a: unknown[]) => void);
  }
  return result!.value;
}

/** Runs infra/index.ts with the given `hcloud-swarm:` config (bare keys; "ns:key" keys pass as is). */
export async function runProgramDetailed(config: Record<string, unknown>): Promise<ProgramRun> {
  lastResources = [];
  lastOperations = [];
  lastLogs = [];
  const run = await withFreshSdk(async (pulumi) => {
    const log = pulumi.log as unknown as Record<"info" | "warn", (m: string) => Promise<void>>;
    for (const level of ["info", "warn"] as const) {
      const original = log[level].bind(pulumi.log);
      log[level] = (m: string) => {
        lastLogs.push(m);
        return original(m);
      };
    }
    const engine = new MockEngine({
      cloud: paperCloud,
      store,
      root: REPO,
      runsForReal: (type) => REAL_DYNAMIC.has(type),
      dynamicStandIn: async ({ type, name, inputs, provider }) => {
        const mock = dynamicMocks.get(type);
        return mock ? await mock({ name, inputs, provider }) : inputs;
      },
      onOperation: (op) => lastOperations.push(op),
    });
    const full = Object.fromEntries(
      Object.entries(config).map(([k, v]) => [
        k.includes(":") ? k : `${PROJECT}:${k}`,
        typeof v === "string" ? v : JSON.stringify(v),
      ]),
    );
    return runUnderMocks({
      pulumi,
      engine,
      config: full,
      project: PROJECT,
      stack: STACK,
      loadProgram: () => import(PROGRAM),
    });
  });
  // The recorded state carries the id, so tests can follow references (firewallIds, subnetId…).
  lastResources = run.registered.map((r) => ({
    type: r.type,
    name: r.name,
    inputs: unwrapProps(r.inputs),
    state: { ...unwrapProps(r.state), ...(r.custom ? { id: r.id } : {}) },
  }));
  if (run.error) throw run.error;
  const secretInputs: Record<string, string[]> = {};
  const additionalSecretOutputs: Record<string, string[]> = {};
  for (const r of run.registered) {
    const keys = secretKeys(r.inputs);
    if (keys.length) secretInputs[`${r.type}::${r.name}`] = keys;
    if (r.additionalSecretOutputs.length)
      additionalSecretOutputs[`${r.type}::${r.name}`] = [...r.additionalSecretOutputs];
  }
  return {
    resources: lastResources,
    outputs: unwrap(run.outputs) as Record<string, unknown>,
    secretOutputs: Object.keys(run.outputs).filter((k) => isSecret(run.outputs[k])),
    secretInputs,
    additionalSecretOutputs,
  };
}

/** Runs infra/index.ts under mocks with the given config and returns every resource it registered. */
export async function runProgram(config: Record<string, unknown>): Promise<RecordedResource[]> {
  return (await runProgramDetailed(config)).resources;
}
