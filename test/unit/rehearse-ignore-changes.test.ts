/**
 * Day two: the program registers servers with ignoreChanges ["userData"] (infra/cluster.ts), so a
 * release whose cloud-init text differs never replaces a running server. The rehearsal's engine
 * models it like Pulumi: the prior value stays, in the diff and in the checkpoint.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FileStore } from "../../rehearse/engine/checkpoint";
import type { Cloud } from "../../rehearse/engine/cloud";
import { MockEngine } from "../../rehearse/engine/engine";
import { HCLOUD_REPLACE_ON_CHANGE } from "../../rehearse/hetzner/replace-on-change";

const SERVER = "hcloud:index/server:Server";
const REPO = path.resolve(__dirname, "../..");

describe("ignoreChanges in the rehearsal's engine", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "ignore-changes-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cloud: Cloud = {
    kindOf: (t) =>
      t === SERVER
        ? {
            replaceOnChange: HCLOUD_REPLACE_ON_CHANGE[SERVER],
            create: async (inputs) => ({ id: `srv-${String(inputs.name)}`, outputs: inputs }),
          }
        : undefined,
  };
  const reg = (ignoreChanges: string[]) => ({
    urn: "urn:pulumi:s::p::hcloud:index/server:Server::w1",
    parent: "",
    dependencies: [],
    additionalSecretOutputs: [],
    deleteBeforeReplace: false,
    ignoreChanges,
  });

  async function twoReleases(ignoreChanges: string[]): Promise<{ op: string; kept: unknown }> {
    const store = new FileStore(path.join(dir, "checkpoint.json"));
    const first = new MockEngine({ cloud, store, root: REPO });
    await first.register(reg(ignoreChanges), SERVER, "w1", true, {
      name: "w1",
      userData: "#cloud-config\nrelease: 1\n",
    });
    await first.finish();
    const second = new MockEngine({ cloud, store, root: REPO });
    await second.register(reg(ignoreChanges), SERVER, "w1", true, {
      name: "w1",
      userData: "#cloud-config\nrelease: 2\n",
    });
    await second.finish();
    return { op: second.operations[0].op, kept: store.load().resources.find((r) => r.name === "w1")?.inputs.userData };
  }

  it("keeps a server whose user data changed when userData is ignored, and keeps the first release's text", async () => {
    expect(await twoReleases(["userData"])).toEqual({ op: "same", kept: "#cloud-config\nrelease: 1\n" });
  });

  it("control: without ignoreChanges the same change replaces the server", async () => {
    expect((await twoReleases([])).op).toBe("replace");
  });
});
