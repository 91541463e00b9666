/**
 * The stand-in engine's state between runs, like a Pulumi stack's checkpoint: every resource with
 * its inputs, outputs, dependencies and parent, plus the stack's outputs.
 *
 * In a file, as Pulumi's local backend does, every secret is kept as a signed wrapper whose value
 * is encrypted (`ciphertext`, AES-256-GCM); the key sits in a separate 0600 file next to it. The
 * state file is written atomically after every operation, so a crash loses nothing that exists.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { mapSecrets, Props, SECRET_SIG, SIG_KEY } from "./properties";

export interface ResourceRecord {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  /** False for component resources (no provider, no id). */
  readonly custom: boolean;
  /** The provider's id; "" for components. */
  readonly id: string;
  /** Inputs as last registered (secrets wrapped; `__provider` for dynamic resources). */
  readonly inputs: Props;
  /** Outputs as last reported by the provider (secrets wrapped). */
  readonly outputs: Props;
  /** URNs this resource depends on (explicit and through its inputs). */
  readonly dependencies: readonly string[];
  /** URN of the parent; "" for the root stack. */
  readonly parent: string;
  /** Replaced and waiting to be deleted (a newer record has the same URN). */
  readonly delete?: true;
}

export interface Checkpoint {
  readonly resources: readonly ResourceRecord[];
  /** The stack's outputs (secrets wrapped), as `pulumi stack output` shows them. */
  readonly outputs: Props;
}

export const EMPTY_CHECKPOINT: Checkpoint = { resources: [], outputs: {} };

/** Where the engine keeps its checkpoint between runs. */
export interface CheckpointStore {
  load(): Checkpoint;
  save(c: Checkpoint): void;
}

/** In memory, for one process (the jest harness). */
export class MemoryStore implements CheckpointStore {
  private current: Checkpoint;
  constructor(initial: Checkpoint = EMPTY_CHECKPOINT) {
    this.current = initial;
  }
  load(): Checkpoint {
    return this.current;
  }
  save(c: Checkpoint): void {
    this.current = c;
  }
}

const FORMAT = "hcloud-swarm-rehearsal-checkpoint/1";
const CIPHER = "aes-256-gcm";

/** A checkpoint file (mode 0600) with encrypted secrets; the key file is created on first save. */
export class FileStore implements CheckpointStore {
  constructor(
    /** The checkpoint, e.g. DIR/checkpoint.json. */
    readonly file: string,
    /** The secrets key. Default: the checkpoint's name with `.key`. */
    readonly keyFile: string = file.replace(/\.json$/, "") + ".key",
  ) {}

  load(): Checkpoint {
    if (!fs.existsSync(this.file)) return EMPTY_CHECKPOINT;
    const raw = JSON.parse(fs.readFileSync(this.file, "utf8")) as { format?: string } & Checkpoint;
    if (raw.format !== FORMAT)
      throw new Error(
        `${this.file} is not a rehearsal checkpoint (format ${JSON.stringify(raw.format)}, expected ${FORMAT})`,
      );
    const key = this.key(false);
    const open = (text: string) => {
      try {
        return decrypt(key, text);
      } catch (err) {
        throw new Error(
          `${this.file}: a secret does not decrypt with ${this.keyFile} (${(err as Error).message}); the file or its key was changed`,
        );
      }
    };
    return mapSecrets({ resources: raw.resources, outputs: raw.outputs }, (s) => ({
      [SIG_KEY]: SECRET_SIG,
      value: open(String(s.ciphertext)),
    })) as Checkpoint;
  }

  save(c: Checkpoint): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const key = this.key(true);
    const sealed = mapSecrets(c, (s) => ({ [SIG_KEY]: SECRET_SIG, ciphertext: encrypt(key, s.value) }));
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ format: FORMAT, ...(sealed as Checkpoint) }, null, 1) + "\n", {
      mode: 0o600,
    });
    fs.renameSync(tmp, this.file);
  }

  private key(create: boolean): Buffer {
    if (fs.existsSync(this.keyFile)) return Buffer.from(fs.readFileSync(this.keyFile, "utf8").trim(), "base64");
    if (!create) throw new Error(`${this.file} has secrets but their key ${this.keyFile} is missing`);
    const key = crypto.randomBytes(32);
    fs.writeFileSync(this.keyFile, key.toString("base64") + "\n", { mode: 0o600, flag: "wx" });
    return key;
  }
}

function encrypt(key: Buffer, value: unknown): string {
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv(CIPHER, key, iv);
  const body = Buffer.concat([c.update(JSON.stringify(value ?? null), "utf8"), c.final()]);
  return [iv, c.getAuthTag(), body].map((b) => b.toString("base64")).join(":");
}

function decrypt(key: Buffer, text: string): unknown {
  const [iv, tag, body] = text.split(":").map((x) => Buffer.from(x, "base64"));
  const d = crypto.createDecipheriv(CIPHER, key, iv);
  d.setAuthTag(tag);
  return JSON.parse(Buffer.concat([d.update(body), d.final()]).toString("utf8")) as unknown;
}
