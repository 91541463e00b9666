/**
 * The rehearsal's engine stand-in (rehearse/engine/engine.ts) with real dynamic providers: each run of a
 * small program registers resources whose serialized providers append what they do to a journal
 * file, so the test sees which provider calls really happened, in which order, and with which
 * version of the provider's code. The checkpoint is a real file with encrypted secrets.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FileStore } from "../../rehearse/engine/checkpoint";
import type { Cloud } from "../../rehearse/engine/cloud";
import { MockEngine, type Operation } from "../../rehearse/engine/engine";
import { isSecret, SIG_KEY } from "../../rehearse/engine/properties";
import { runUnderMocks } from "../../rehearse/engine/run-under-mocks";
import { withFreshSdk } from "../support/pulumi";

jest.setTimeout(60_000);

interface Spec {
  /** Logical name; also the id. */
  readonly name: string;
  readonly value: string;
  /** A change of key replaces (delete before replace). */
  readonly key?: string;
  readonly dependsOn?: string;
  readonly secretValue?: string;
}

const REPO = path.resolve(__dirname, "../..");
const noCloud: Cloud = { kindOf: () => undefined };
let dir: string;
let journal: string;

/** The provider's code at `version`; serialized into each resource as Pulumi does. */
function providerAt(version: string) {
  // Serialized as require("fs"): core modules are not copied into the provider's text.
  const note = (file: string, line: string) => fs.appendFileSync(file, `${line}\n`);
  return {
    async create(inputs: Record<string, string>) {
      note(String(inputs.journal), `create ${inputs.label} ${version}`);
      console.log(`created ${inputs.label}`);
      return { id: String(inputs.label), outs: { ...inputs, made: version } };
    },
    async diff(_id: string, olds: Record<string, string>, news: Record<string, string>) {
      const replaces = olds.key !== news.key ? ["key"] : [];
      return { changes: olds.value !== news.value || replaces.length > 0, replaces, deleteBeforeReplace: true };
    },
    async update(id: string, _olds: Record<string, string>, news: Record<string, string>) {
      note(String(news.journal), `update ${id} ${version}`);
      return { outs: { ...news, made: version } };
    },
    async delete(id: string, props: Record<string, string>) {
      note(String(props.journal), `delete ${id} ${version}`);
    },
  };
}

async function run(specs: readonly Spec[], version = "v1"): Promise<{ ops: Operation[] }> {
  return withFreshSdk(async (pulumi) => {
    const engine = new MockEngine({
      cloud: noCloud,
      store: new FileStore(path.join(dir, "checkpoint.json")),
      root: REPO,
    });
    const result = await runUnderMocks({
      pulumi,
      engine,
      config: {},
      project: "p",
      stack: "s",
      loadProgram: async () => {
        class Journaled extends pulumi.dynamic.Resource {
          constructor(name: string, props: Record<string, unknown>, opts: { dependsOn?: Journaled[] }) {
            super(providerAt(version), name, props, opts);
          }
        }
        const made = new Map<string, Journaled>();
        for (const s of specs) {
          const props = {
            label: s.name,
            value: s.value,
            key: s.key ?? "k",
            journal,
            ...(s.secretValue ? { hidden: pulumi.secret(s.secretValue) } : {}),
          };
          const dep = s.dependsOn ? made.get(s.dependsOn) : undefined;
          made.set(s.name, new Journaled(s.name, props, dep ? { dependsOn: [dep] } : {}));
        }
        return {};
      },
    });
    if (result.error) throw result.error;
    return { ops: engine.operations };
  });
}

const summary = (ops: readonly Operation[]) => ops.map((o) => `${o.op} ${o.name}`);
const journalLines = () => (fs.existsSync(journal) ? fs.readFileSync(journal, "utf8").trim().split("\n") : []);

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "rehearse-engine-"));
  journal = path.join(dir, "journal");
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("the engine stand-in with real dynamic providers", () => {
  it("creates, then keeps what did not change without calling the provider", async () => {
    const specs = [
      { name: "a", value: "1" },
      { name: "b", value: "1", dependsOn: "a" },
    ];
    expect(summary((await run(specs)).ops)).toEqual(["create a", "create b"]);
    expect(summary((await run(specs)).ops)).toEqual(["same a", "same b"]);
    expect(journalLines()).toEqual(["create a v1", "create b v1"]);
  });

  it("updates in place, and replaces (deleting first) when the provider says so", async () => {
    await run([{ name: "a", value: "1" }]);
    const updated = await run([{ name: "a", value: "2" }]);
    expect(updated.ops.map((o) => [o.op, o.changed])).toEqual([["update", ["value"]]]);
    await run([{ name: "a", value: "2", key: "other" }]);
    expect(journalLines()).toEqual(["create a v1", "update a v1", "delete a v1", "create a v1"]);
  });

  it("deletes what the program no longer registers, dependents first, with the provider code that created it", async () => {
    await run([
      { name: "server", value: "1" },
      { name: "member", value: "1", dependsOn: "server" },
      { name: "stays", value: "1" },
    ]);
    const second = await run([{ name: "stays", value: "1" }], "v2");
    expect(summary(second.ops)).toEqual(["same stays", "delete member", "delete server"]);
    expect(journalLines().slice(-2)).toEqual(["delete member v1", "delete server v1"]);
  });

  it("keeps each resource's diagnostics with it", async () => {
    const { ops } = await run([{ name: "a", value: "1" }]);
    expect(ops[0].diagnostics).toEqual(["created a"]);
  });

  it("stops at a failed create: later resources are not attempted, and nothing is deleted", async () => {
    // Driven directly (a failed registration inside the SDK leaves rejections that jest would
    // pin on the test): the provider is the kind of module text the provider host rebuilds.
    const source = [
      "const fs = require('fs');",
      "exports.handler = () => ({",
      "  async create(i) { if (i.fail) throw new Error(i.label + ' cannot be created'); fs.appendFileSync(i.journal, 'create ' + i.label + '\\n'); return { id: i.label, outs: i }; },",
      "  async delete(id, p) { fs.appendFileSync(p.journal, 'delete ' + id + '\\n'); },",
      "});",
    ].join("\n");
    const store = new FileStore(path.join(dir, "checkpoint.json"));
    const reg = (name: string, dependencies: string[] = []) => ({
      urn: `urn:pulumi:s::p::t::${name}`,
      parent: "",
      dependencies,
      additionalSecretOutputs: [],
      deleteBeforeReplace: false,
    });
    const register = (e: MockEngine, name: string, fail = false) =>
      e.register(reg(name), "pulumi-nodejs:dynamic:Resource", name, true, {
        __provider: source,
        label: name,
        journal,
        fail,
      });

    const first = new MockEngine({ cloud: noCloud, store, root: REPO });
    await register(first, "old");
    await first.finish();

    const second = new MockEngine({ cloud: noCloud, store, root: REPO });
    await expect(register(second, "bad", true)).rejects.toThrow(/bad cannot be created/);
    await expect(register(second, "after")).rejects.toThrow(/after was not attempted: .*bad failed/);
    await second.finish();
    expect(second.operations.map((o) => [o.op, o.name, o.error ? "error" : "ok"])).toEqual([
      ["create", "bad", "error"],
    ]);
    expect(journalLines()).toEqual(["create old"]);
    expect(store.load().resources.map((r) => r.name)).toEqual(["old"]);

    // The next good run finishes the job.
    const third = new MockEngine({ cloud: noCloud, store, root: REPO });
    await register(third, "after");
    await third.finish();
    expect(summary(third.operations)).toEqual(["create after", "delete old"]);
    expect(journalLines()).toEqual(["create old", "create after", "delete old"]);
  });

  it("keeps secret inputs secret in the checkpoint, encrypted in the file", async () => {
    await run([{ name: "a", value: "1", secretValue: "hunter2-very-secret" }]);
    const text = fs.readFileSync(path.join(dir, "checkpoint.json"), "utf8");
    expect(text).not.toContain("hunter2-very-secret");
    expect(text).toContain(SIG_KEY);
    expect(fs.statSync(path.join(dir, "checkpoint.json")).mode & 0o777).toBe(0o600);
    const back = new FileStore(path.join(dir, "checkpoint.json")).load();
    const a = back.resources.find((r) => r.name === "a")!;
    expect(isSecret(a.outputs.hidden) && a.outputs.hidden.value).toBe("hunter2-very-secret");
    fs.rmSync(path.join(dir, "checkpoint.key"));
    expect(() => new FileStore(path.join(dir, "checkpoint.json")).load()).toThrow(/checkpoint\.key is missing/);
  });
});
