/**
 * The pure decisions of autolock and rotation: which unlock keys are kept (a rotation never drops
 * the only key that opens a manager), when the swarm's setting changes, which join tokens a run
 * used, how a CA rotation's progress is judged, and how a locked manager is named.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  autolockChange,
  KEPT_UNLOCK_KEYS,
  keysToKeep,
  lockedProblem,
  mustKeep,
  rolesUsed,
} from "../../../swarm/autolock-plan";
import { caProgress } from "../../../recovery/rotate-plan";
import { checkSwarmStates } from "../../../verify/swarm-state";
import { fileKeyStore, readUnlockKeys, writeUnlockKeys } from "../../../recovery/unlock-key-file";
import { BACKUP_KEY_BYTES, newBackupKeyText } from "../../../recovery/backup-key-format";
import { readKeyFile } from "../../../recovery/key-file";
import { KEY_BYTES } from "../../../recovery/archive";

const K = (n: number) => `SWMKEY-1-${"k".repeat(40)}${n}`;

describe("unlock keys kept", () => {
  it("puts the swarm's key first and keeps the one before it, never more than KEPT_UNLOCK_KEYS", () => {
    expect(keysToKeep([], K(1))).toEqual([K(1)]);
    expect(keysToKeep([K(1)], K(2))).toEqual([K(2), K(1)]);
    expect(keysToKeep([K(2), K(1)], K(3))).toEqual([K(3), K(2)]);
    expect(keysToKeep([K(2), K(1)], K(3))).toHaveLength(KEPT_UNLOCK_KEYS);
    // A key known already moves to the front rather than appearing twice.
    expect(keysToKeep([K(2), K(1)], K(1))).toEqual([K(1), K(2)]);
  });

  it("writes again only when the swarm's key is not the first kept one", () => {
    expect(mustKeep([], K(1))).toBe(true);
    expect(mustKeep([K(1), K(0)], K(1))).toBe(false);
    expect(mustKeep([K(0), K(1)], K(1))).toBe(true);
  });
});

describe("autolock setting", () => {
  it("changes only when wanted and read, and differing", () => {
    expect(autolockChange(true, false)).toBe("enable");
    expect(autolockChange(false, true)).toBe("disable");
    expect(autolockChange(true, true)).toBe("none");
    expect(autolockChange(undefined, false)).toBe("none");
    // A manager that could not read its cluster reports no setting: nothing is changed blindly.
    expect(autolockChange(true, undefined)).toBe("none");
  });
});

describe("join tokens a run used", () => {
  it("are the roles some node joined as, worker first", () => {
    expect(rolesUsed([])).toEqual([]);
    expect(rolesUsed([{ role: "worker" }, { role: "worker" }])).toEqual(["worker"]);
    expect(rolesUsed([{ role: "manager" }, { role: "worker" }])).toEqual(["worker", "manager"]);
  });
});

describe("a locked manager is named with the fix", () => {
  it("without a kept key: the unlock command", () => {
    const p = lockedProblem("manager-2", undefined);
    expect(p).toMatch(/^manager-2 is a locked swarm manager/);
    expect(p).toMatch(/hcloud-swarm unlock --inventory FILE/);
  });
  it("with kept keys that do not open it: says so, and where they are", () => {
    expect(lockedProblem("manager-3", { keys: 2, where: "/k/file.key" })).toMatch(
      /^manager-3 is a locked swarm manager .*none of the 2 unlock key\(s\) kept in \/k\/file.key opens it/,
    );
  });
  it("verify fails exactly the locked nodes", () => {
    const checks = checkSwarmStates([
      { node: "manager-1", role: "manager", state: "active" },
      { node: "manager-2", role: "manager", state: "locked" },
      { node: "worker-1", role: "worker" },
    ]);
    expect(checks.map((c) => [c.status, c.subject, c.what])).toEqual([["fail", "node manager-2", "swarm unlocked"]]);
  });
});

describe("CA rotation progress", () => {
  const node = (name: string, root: string, status = "ready") => ({ name, root, status });
  it("is not done while the cluster's root is the old one, even if every node reports it", () => {
    const p = caProgress("OLD", "OLD", [node("a", "OLD"), node("b", "OLD")]);
    expect(p.done).toBe(false);
    expect(p.behind).toEqual(["a", "b"]);
  });
  it("is done when the root changed and every node reports the new one", () => {
    expect(caProgress("OLD", "NEW\n", [node("a", "NEW"), node("b", "NEW\n")]).done).toBe(true);
  });
  it("names the nodes behind, and those of them that are down", () => {
    const p = caProgress("OLD", "NEW", [node("a", "NEW"), node("b", "OLD", "down"), node("c", "OLD")]);
    expect(p).toEqual({ done: false, behind: ["b", "c"], down: ["b"] });
  });
  it("takes an empty root (a manager that could not answer) for not done", () => {
    expect(caProgress("OLD", "", []).done).toBe(false);
  });
});

describe("the unlock key file", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "unlock-keys-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("is written 0600 in a 0700 directory, newest first, and read back", () => {
    const file = path.join(dir, "sub", "c.key");
    const store = fileKeyStore(file);
    expect(store.known).toEqual([]);
    store.keep([K(2), K(1)]);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(readUnlockKeys(file)).toEqual([K(2), K(1)]);
    expect(store.known).toEqual([K(2), K(1)]);
    // No temporary file is left beside it.
    expect(fs.readdirSync(path.dirname(file))).toEqual(["c.key"]);
  });

  it("replaces the keys by rename: the old file's inode holds the old keys whole", () => {
    const file = path.join(dir, "r.key");
    writeUnlockKeys(file, [K(1)]);
    const fd = fs.openSync(file, "r");
    writeUnlockKeys(file, [K(2), K(1)]);
    expect(fs.readFileSync(fd, "utf8")).toBe(`${K(1)}\n`);
    fs.closeSync(fd);
    expect(readUnlockKeys(file)).toEqual([K(2), K(1)]);
  });

  it("refuses a file others can read, and lines that are not keys, naming them", () => {
    const open = path.join(dir, "open.key");
    fs.writeFileSync(open, `${K(1)}\n`, { mode: 0o644 });
    fs.chmodSync(open, 0o644);
    expect(() => readUnlockKeys(open)).toThrow(/readable by others \(mode 644\); run `chmod 600/);
    const bad = path.join(dir, "bad.key");
    fs.writeFileSync(bad, `${K(1)}\nSWMTKN-1-abc\n\nhello\n`, { mode: 0o600 });
    expect(() => readUnlockKeys(bad)).toThrow(/bad.key line 2, 4: not a swarm unlock key/);
  });
});

describe("the backup key the SwarmKeys resource generates", () => {
  it("is a key file's text: written to a 0600 file, the CLI reads it as a backup key", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "backup-key-"));
    try {
      const text = newBackupKeyText();
      expect(BACKUP_KEY_BYTES).toBe(KEY_BYTES);
      const file = path.join(dir, "c.key");
      fs.writeFileSync(file, `${text}\n`, { mode: 0o600 });
      expect(readKeyFile(file)).toHaveLength(KEY_BYTES);
      expect(newBackupKeyText()).not.toBe(text);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
