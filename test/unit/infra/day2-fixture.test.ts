/**
 * A new release never replaces a server by itself: the state a release's first `pulumi up` left
 * (test/fixtures/day2/checkpoint.json, written by tools/release-checkpoint.ts from release 41b0d74),
 * run through the current program under the rehearsal's engine, replaces, creates and deletes no
 * server. Neither does the usual day-2 change on top of it (a Docker upgrade and one more admin
 * key, which change every server's user data). Regenerate the fixture only on purpose (see the tool).
 */
import * as fs from "fs";
import * as path from "path";
import type { Checkpoint } from "../../../rehearse/engine/checkpoint";
import { operationsOfLastRun, runProgramDetailed, useState } from "../../support/pulumi";

jest.setTimeout(180_000);

const FIXTURES = path.resolve(__dirname, "../../fixtures/day2");
const SERVER = "hcloud:index/server:Server";
const config = JSON.parse(fs.readFileSync(path.join(FIXTURES, "config.json"), "utf8")) as Record<string, string>;
const fixture = () => JSON.parse(fs.readFileSync(path.join(FIXTURES, "checkpoint.json"), "utf8")) as Checkpoint;

/** Each server's operation and the inputs it changed. */
const serverOps = () =>
  operationsOfLastRun()
    .filter((o) => o.type === SERVER)
    .map((o) => `${o.op} ${o.name}${o.changed ? ` [${o.changed.join(", ")}]` : ""}`)
    .sort();
/** The first run of this release labels each server with what it was created with (in place). */
const labelledInPlace = ["manager-1", "manager-2", "manager-3", "worker-1", "worker-2"].map(
  (n) => `update swarm-${n} [labels]`,
);

describe("a release's state under the current program", () => {
  it("is the state of 5 servers, as the release left it", () => {
    expect(
      fixture()
        .resources.filter((r) => r.type === SERVER)
        .map((r) => r.name)
        .sort(),
    ).toEqual(["swarm-manager-1", "swarm-manager-2", "swarm-manager-3", "swarm-worker-1", "swarm-worker-2"]);
  });

  it("replaces no server, and nothing else either, with the same config (the servers gain labels in place)", async () => {
    useState(fixture());
    await runProgramDetailed(config);
    expect(serverOps()).toEqual(labelledInPlace);
    expect(operationsOfLastRun().filter((o) => o.op === "replace" || o.op === "delete")).toEqual([]);
  });

  it("replaces no server when dockerVersion and adminSshKeys change every server's user data", async () => {
    useState(fixture());
    const keys = JSON.parse(config["hcloud-swarm:adminSshKeys"]) as string[];
    const run = await runProgramDetailed({
      ...config,
      "hcloud-swarm:dockerVersion": "28.5.2",
      "hcloud-swarm:adminSshKeys": JSON.stringify([
        ...keys,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFYpjqQ1qvXkRVqNwM8lW5p0m2k2o2v2b2y1Q9y8Zx7K second@example.com",
      ]),
    });
    // The new text is what a new server would boot from; the existing ones keep theirs.
    const stored = run.resources.find((r) => r.name === "swarm-worker-1")?.inputs.userData;
    expect(String(stored)).toContain("redacted by tools/release-checkpoint");
    expect(serverOps()).toEqual(labelledInPlace);
    expect(operationsOfLastRun().filter((o) => o.op === "replace" || o.op === "delete")).toEqual([]);
  });
});
