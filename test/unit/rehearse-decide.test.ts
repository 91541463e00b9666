/**
 * The rehearsal engine's decisions (rehearse/engine/decide.ts): keep, update or replace a registered
 * resource, and the order in which resources that left the program are deleted.
 */
import { changedKeys, deletionWaves, diffByInputs, diffByProvider } from "../../rehearse/engine/decide";
import { secret } from "../../rehearse/engine/properties";

const SERVER_REPLACE = ["image", "location", "userData", "sshKeys"];

describe("deciding what happens to a registered resource", () => {
  it("keeps a resource whose inputs are equal, whatever their key order and secret wrapping", () => {
    const olds = { name: "a", labels: { x: "1", y: "2" }, userData: secret("#cloud-config") };
    const news = { labels: { y: "2", x: "1" }, userData: "#cloud-config", name: "a" };
    expect(diffByInputs(olds, news, SERVER_REPLACE)).toEqual({ kind: "same" });
  });

  it("updates in place when only updatable inputs changed, and names them", () => {
    expect(
      diffByInputs(
        { name: "a", serverType: "cx23", labels: {} },
        { name: "b", serverType: "cx33", labels: {} },
        SERVER_REPLACE,
      ),
    ).toEqual({ kind: "update", changed: ["name", "serverType"] });
  });

  it("replaces when a property the provider cannot update changed, even hidden inside a secret", () => {
    const d = diffByInputs(
      { userData: secret("one"), name: "a" },
      { userData: secret("two"), name: "a" },
      SERVER_REPLACE,
    );
    expect(d).toEqual({ kind: "replace", changed: ["userData"], replaces: ["userData"], deleteBeforeReplace: false });
  });

  it("treats an input that appears or disappears as a change, but an undefined one as absent", () => {
    expect(changedKeys({ a: 1 }, { a: 1, b: undefined })).toEqual([]);
    expect(changedKeys({ a: 1 }, { a: 1, b: null })).toEqual(["b"]);
    expect(changedKeys({ a: [1, 2] }, { a: [2, 1] })).toEqual(["a"]);
  });

  it("follows a dynamic provider's own diff, including delete-before-replace", () => {
    const olds = { node: { name: "worker-1", host: "10.0.0.21" }, privateKey: "k" };
    const news = { node: { name: "worker-1", host: "10.0.0.22" }, privateKey: "k" };
    expect(diffByProvider({ changes: false }, olds, news)).toEqual({ kind: "same" });
    expect(diffByProvider({ changes: true, replaces: ["node.host"], deleteBeforeReplace: true }, olds, news)).toEqual({
      kind: "replace",
      changed: ["node"],
      replaces: ["node.host"],
      deleteBeforeReplace: true,
    });
    expect(diffByProvider({ changes: true, replaces: [] }, olds, news)).toEqual({ kind: "update", changed: ["node"] });
  });

  it("compares inputs when the provider's diff gives no opinion", () => {
    expect(diffByProvider({}, { a: 1 }, { a: 1 })).toEqual({ kind: "same" });
    expect(diffByProvider({}, { a: 1 }, { a: 2 })).toEqual({ kind: "update", changed: ["a"] });
  });
});

describe("ordering deletes", () => {
  const urn = (n: string) => `urn:pulumi:dev::p::t::${n}`;
  const r = (name: string, deps: string[] = [], parent = "") => ({
    urn: urn(name),
    dependencies: deps.map(urn),
    parent: parent ? urn(parent) : "",
  });

  it("deletes a swarm membership before the server it depends on, and the server before its host key", () => {
    const all = [
      r("cluster"),
      r("host-key", [], "cluster"),
      r("server", ["host-key"], "cluster"),
      r("member", ["server"], "cluster"),
    ];
    expect(deletionWaves(all, new Set([urn("host-key"), urn("server"), urn("member")]))).toEqual([
      [urn("member")],
      [urn("server")],
      [urn("host-key")],
    ]);
  });

  it("deletes independent resources in the same wave", () => {
    const all = [r("s1"), r("s2"), r("m1", ["s1"]), r("m2", ["s2"])];
    expect(deletionWaves(all, new Set(all.map((x) => x.urn)))).toEqual([
      [urn("m1"), urn("m2")],
      [urn("s1"), urn("s2")],
    ]);
  });

  it("counts depending on a component as depending on all of its children, and deletes children before their parent", () => {
    const all = [r("cluster"), r("server", [], "cluster"), r("stacks", ["cluster"])];
    expect(deletionWaves(all, new Set(all.map((x) => x.urn)))).toEqual([
      [urn("stacks")],
      [urn("server")],
      [urn("cluster")],
    ]);
  });

  it("ignores dependents that stay, and refuses a cycle by name", () => {
    const all = [r("server"), r("member", ["server"])];
    expect(deletionWaves(all, new Set([urn("server")]))).toEqual([[urn("server")]]);
    const cycle = [r("a", ["b"]), r("b", ["a"])];
    expect(() => deletionWaves(cycle, new Set(cycle.map((x) => x.urn)))).toThrow(/t::a.*t::b.*cycle/);
  });
});
