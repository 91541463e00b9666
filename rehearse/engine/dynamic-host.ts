/**
 * Dynamic providers run for real, as Pulumi's dynamic provider host runs them: the serialized
 * text in a resource's `__provider` is rebuilt with require-from-string and its handler's
 * check/diff/create/update/delete are called with plain values. Rebuilt providers are cached by
 * their text, one per process, as the host caches them.
 *
 * What a provider prints (console.log and friends) is what `pulumi up` shows as the resource's
 * diagnostics; `capturing` routes it to the resource being worked on, also when several run at once.
 */
import { AsyncLocalStorage } from "async_hooks";
import nodeConsole from "console";
import * as path from "path";
import requireFromString from "require-from-string";
import type { Props } from "./properties";

export const PROVIDER_KEY = "__provider";
/** Dynamic resources are typed "pulumi-nodejs:dynamic:Resource" or "pulumi-nodejs:dynamic/<module>:<Type>". */
export const DYNAMIC_PREFIX = "pulumi-nodejs:dynamic";

export interface CheckFailure {
  readonly property: string;
  readonly reason: string;
}

/** `pulumi.dynamic.ResourceProvider`, with plain values. */
export interface DynamicProvider {
  check?(olds: Props, news: Props): Promise<{ inputs?: Props; failures?: CheckFailure[] }>;
  diff?(
    id: string,
    olds: Props,
    news: Props,
  ): Promise<{ changes?: boolean; replaces?: string[]; deleteBeforeReplace?: boolean }>;
  create(inputs: Props): Promise<{ id: string; outs?: Props }>;
  update?(id: string, olds: Props, news: Props): Promise<{ outs?: Props } | undefined>;
  delete?(id: string, props: Props): Promise<void>;
}

/** One rebuilt provider per serialized text, for the life of the process. */
const providers = new Map<string, DynamicProvider>();

/** Rebuilds the provider serialized in `source` (cached per process, like the provider host). */
export function providerFrom(source: string, root: string): DynamicProvider {
  const hit = providers.get(source);
  if (hit) return hit;
  // The file name decides where the rebuilt module's require() looks: the project's node_modules.
  const mod = requireFromString(source, path.join(root, "__provider.js")) as { handler: () => DynamicProvider };
  const provider = mod.handler();
  providers.set(source, provider);
  return provider;
}

/** True for the resource types Pulumi hands to its dynamic provider host. */
export function isDynamic(type: string): boolean {
  return type.startsWith(DYNAMIC_PREFIX);
}

const sinks = new AsyncLocalStorage<(line: string) => void>();
const CONSOLE_KEY = "hcloud-swarm.rehearse.console";

function installConsoleRouting(): void {
  const g = globalThis as unknown as Record<string, object | undefined>;
  if (g[CONSOLE_KEY]) return;
  // An object, not `true`: Pulumi's closure serializer refers to a global whose value equals a
  // captured primitive by that global's name, so every `true` in a provider serialized after this
  // ran became `global["hcloud-swarm.rehearse.console"]`, and the provider's text changed between runs.
  g[CONSOLE_KEY] = { installed: "console routing" };
  // Rebuilt providers print through Node's own console; under jest the test's global one differs.
  const consoles = new Set<Console>([console, nodeConsole]);
  for (const target of consoles) {
    for (const level of ["log", "info", "warn", "error"] as const) {
      const original = target[level].bind(target);
      target[level] = (...args: unknown[]) => {
        const sink = sinks.getStore();
        if (!sink) return original(...args);
        const text = args
          .map((a) => (typeof a === "string" ? a : a instanceof Error ? a.message : JSON.stringify(a)))
          .join(" ");
        for (const line of text.split("\n")) sink(line);
      };
    }
  }
}

/** Runs `fn` with everything it prints sent to `sink`, line by line; the sink itself may print. */
export async function capturing<T>(sink: (line: string) => void, fn: () => Promise<T>): Promise<T> {
  installConsoleRouting();
  return sinks.run((line) => sinks.exit(() => sink(line)), fn);
}
