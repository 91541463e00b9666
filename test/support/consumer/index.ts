/**
 * A user's own Pulumi program that uses the packed package (test/integration/package-consumer.test.ts
 * copies it into a fresh project outside the repository, compiles it against the installed type
 * declarations, and runs it). Under Pulumi's own mocks: no engine, no cloud. Prints what it saw as JSON.
 */
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import type { SwarmClusterArgs } from "hcloud-swarm";

/** A real ed25519 public key in OpenSSH form, as the key-pair resource returns it. */
function openSshPublicKey(): string {
  const der = crypto.generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "der" });
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  return `ssh-ed25519 ${Buffer.concat([field(Buffer.from("ssh-ed25519")), field(der.subarray(der.length - 32))]).toString("base64")}`;
}

const types: string[] = [];
/** Every module the serialized dynamic providers require: they must resolve from this project. */
const providerRequires = new Set<string>();

pulumi.runtime.setMocks(
  {
    newResource: (a) => {
      types.push(a.type);
      const provider = a.inputs.__provider;
      if (typeof provider === "string")
        for (const m of provider.matchAll(/require\("([^"]+)"\)/g)) providerRequires.add(m[1]);
      const server =
        a.type === "hcloud:index/server:Server" ? { ipv4Address: "192.0.2.10", ipv6Address: "2001:db8::10" } : {};
      const keys = a.type.endsWith(":SshKeyPair")
        ? { publicKey: openSshPublicKey(), privateKey: "(mock: never used)" }
        : {};
      return { id: `${a.name}-id`, state: { ...a.inputs, ...server, ...keys } };
    },
    call: (a) => a.inputs,
  },
  "consumer",
  "dev",
  false,
);

async function main(): Promise<void> {
  const { SwarmCluster } = await import("hcloud-swarm");
  // Importing the package must not run a program: no resource yet.
  const afterImport = types.length;
  const args: SwarmClusterArgs = { serverType: "cx22", managers: 1, workers: 2 };
  const cluster = new SwarmCluster("swarm", args);
  const inventory = await new Promise((resolve) => cluster.inventory.apply(resolve));
  const unresolved = [...providerRequires].filter((m) => {
    try {
      require.resolve(m);
      return false;
    } catch {
      return true;
    }
  });
  console.log(
    JSON.stringify({
      afterImport,
      types: [...new Set(types)].sort(),
      nodes: cluster.nodes.map((n) => n.plan.name),
      inventory,
      providerRequires: [...providerRequires].sort(),
      unresolved,
    }),
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
