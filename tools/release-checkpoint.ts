/**
 * Writes the day-2 fixture: the Pulumi state a release leaves after its first `pulumi up` of
 * test/fixtures/day2/config.json, run under the rehearsal's engine on a paper Hetzner (ids and
 * addresses derived from names, as test/support/pulumi.ts does), secrets redacted (no private key
 * of any kind is committed). test/unit/infra/day2-fixture.test.ts runs the current program on it
 * and demands 0 server replacements.
 *
 * Regenerate only on purpose, from the release whose state it stands for (docs/design/day-2.md):
 *   git worktree add /tmp/rel <release> && cd /tmp/rel && npm ci
 *   cp <repo>/tools/release-checkpoint.ts tools/ && npx tsc -p tsconfig.build.json
 *   node dist/tools/release-checkpoint.js <repo>/test/fixtures/day2/config.json > <repo>/test/fixtures/day2/checkpoint.json
 * It uses only the engine API that release 41b0d74 already had (MockEngine, runUnderMocks, MemoryStore).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { MemoryStore } from "../rehearse/engine/checkpoint";
import type { Cloud, ResourceKind } from "../rehearse/engine/cloud";
import { MockEngine } from "../rehearse/engine/engine";
import { mapSecrets, type Props } from "../rehearse/engine/properties";
import { runUnderMocks } from "../rehearse/engine/run-under-mocks";
import { HCLOUD_REPLACE_ON_CHANGE } from "../rehearse/hetzner/replace-on-change";

const ROOT = path.resolve(__dirname, "../..");
const SERVER = "hcloud:index/server:Server";
const REAL = ["pulumi-nodejs:dynamic/hcloud-swarm:SshKeyPair", "pulumi-nodejs:dynamic/hcloud-swarm:StackSecrets"];

const hash = (t: string) => crypto.createHash("sha256").update(t).digest();
const numericId = (type: string, name: string) =>
  String(10_000_000 + (hash(`${type}::${name}`).readUInt32BE(0) % 90_000_000));

function kind(type: string): ResourceKind | undefined {
  const replaceOnChange = HCLOUD_REPLACE_ON_CHANGE[type];
  if (!replaceOnChange) return undefined;
  return {
    replaceOnChange,
    async create(inputs, ctx) {
      const h = hash(String(inputs.name));
      const extra: Props =
        type === SERVER
          ? {
              ipv4Address: `116.203.${h[0]}.${(h[1] % 253) + 2}`,
              ipv6Address: `2a01:4f8:c17:${h.readUInt16BE(2).toString(16)}::1`,
              status: "running",
            }
          : {};
      return { id: numericId(type, ctx.name), outputs: { ...inputs, ...extra } };
    },
  };
}

async function main(): Promise<void> {
  const configFile = process.argv[2];
  if (!configFile) throw new Error("usage: node dist/tools/release-checkpoint.js CONFIG.json > CHECKPOINT.json");
  const config = JSON.parse(fs.readFileSync(configFile, "utf8")) as Record<string, string>;
  // The first run of a stack: Hetzner lists no server yet.
  const cloud = { kindOf: kind, invoke: () => ({ servers: [] }) } as Cloud;
  const store = new MemoryStore();
  const engine = new MockEngine({ cloud, store, root: ROOT, runsForReal: (t) => REAL.includes(t) });
  const result = await runUnderMocks({
    pulumi: await import("@pulumi/pulumi"),
    engine,
    config,
    project: "hcloud-swarm",
    stack: "dev",
    loadProgram: () => import(path.join(ROOT, "dist", "infra", "index.js")),
  });
  if (result.error) throw result.error;
  const redacted = mapSecrets(store.load(), (s) => ({ ...s, value: "[secret redacted by tools/release-checkpoint]" }));
  // A serialized provider is ~80 KB of the release's own code; the fixture keeps its digest. The
  // current program brings its own providers; only deleting a dynamic resource would need the old one.
  const digest = (p: Props): Props =>
    "__provider" in p
      ? { ...p, __provider: `[serialized provider, sha256 ${hash(String(p.__provider)).toString("hex").slice(0, 16)}]` }
      : p;
  const state = redacted as { resources: Array<{ inputs: Props; outputs: Props }>; outputs: Props };
  state.resources = state.resources.map((r) => ({ ...r, inputs: digest(r.inputs), outputs: digest(r.outputs) }));
  process.stdout.write(JSON.stringify(state, null, 1) + "\n");
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});
