/**
 * The rehearsal's engine replaces a Hetzner resource as the bridged provider does: when the program
 * fixes its name (servers, networks, keys…), the old one is deleted before the new one is created,
 * and the step report says so; without a fixed name the new one comes first.
 */
import type { Cloud } from "../../rehearse/engine/cloud";
import { MemoryStore } from "../../rehearse/engine/checkpoint";
import { MockEngine } from "../../rehearse/engine/engine";
import { HCLOUD_REPLACE_ON_CHANGE, hcloudDeletesFirst } from "../../rehearse/hetzner/replace-on-change";

const SERVER = "hcloud:index/server:Server";

function journaledCloud(journal: string[]): Cloud {
  return {
    kindOf: (t) =>
      t === SERVER
        ? {
            replaceOnChange: HCLOUD_REPLACE_ON_CHANGE[SERVER],
            deleteBeforeReplace: (i) => hcloudDeletesFirst(SERVER, i),
            async create(inputs) {
              journal.push(`create ${String(inputs.image)}`);
              return { id: `srv-${String(inputs.image)}`, outputs: inputs };
            },
            async delete(id) {
              journal.push(`delete ${id}`);
            },
          }
        : undefined,
  };
}

const reg = {
  urn: "urn:pulumi:s::p::hcloud:index/server:Server::w1",
  parent: "",
  dependencies: [],
  additionalSecretOutputs: [],
  deleteBeforeReplace: false,
};

async function imageChange(name: string | undefined): Promise<{ journal: string[]; deletedFirst?: boolean }> {
  const journal: string[] = [];
  const store = new MemoryStore();
  for (const image of ["debian-12", "debian-13"]) {
    const engine = new MockEngine({ cloud: journaledCloud(journal), store, root: "." });
    await engine.register(reg, SERVER, "w1", true, { ...(name ? { name } : {}), image });
    await engine.finish();
    if (image === "debian-13")
      return { journal, deletedFirst: engine.operations.find((o) => o.op === "replace")?.deletedFirst };
  }
  throw new Error("unreachable");
}

describe("replace order of Hetzner resources in the rehearsal's engine", () => {
  it("deletes a server with a fixed name before creating its replacement, and reports it", async () => {
    expect(await imageChange("dev-worker-1")).toEqual({
      journal: ["create debian-12", "delete srv-debian-12", "create debian-13"],
      deletedFirst: true,
    });
  });

  it("control: without a fixed name the replacement comes first", async () => {
    expect(await imageChange(undefined)).toEqual({
      journal: ["create debian-12", "create debian-13", "delete srv-debian-12"],
      deletedFirst: false,
    });
  });
});
