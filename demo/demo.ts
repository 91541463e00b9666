/**
 * `npm run demo`: the whole journey on this machine, through the same CLI a user types.
 * local up (3 nodes) → bootstrap → lint the seed post's stack → deploy traefik + wordpress
 * with local images → show every overlay → verify → what was proven, and what this kernel
 * cannot prove. `npm run demo:down` removes the bed.
 */
import * as fs from "fs";
import * as path from "path";
import { loadInventory } from "../inventory/inventory";
import { main as cli } from "../cli/main";
import { DEFAULT_DIR, detectKernelFeatures, LOCAL_IMAGE } from "../local";
import { connect } from "../transport/ssh";
import { readNodes, overlayNetworks, secretNames, stackServices } from "../swarm/facts";
import { connectManager } from "../swarm/manager-session";
import { lintText } from "../stacks/lint/lint";
import { MTU_OPTION } from "../stacks/template/render";
import { verifyCluster } from "../verify/collect";
import { type LeakProbeResult, probeVxlan } from "./leak-probe";
import { SEED_STACK } from "./seed";
import { summarise } from "./summary";

const dir = DEFAULT_DIR;
const demoInventory = path.join(dir, "inventory.json");
const secretsDir = path.join(dir, "secrets");
const STACKS: ReadonlyArray<[string, string[]]> = [
  ["traefik", ["--var", "acme_email=ops@example.test", "--var", "dashboard_domain=traefik.example.test"]],
  ["wordpress", ["--var", "domain=blog.example.test"]],
];

function step(title: string): void {
  console.log(`\n${"=".repeat(78)}\n== ${title}\n${"=".repeat(78)}`);
}

/** Runs one CLI command in-process, showing it as the user would type it; returns its exit code. */
async function run(args: string[]): Promise<number> {
  console.log(`\n$ npx hcloud-swarm ${args.join(" ")}`);
  process.exitCode = 0;
  await cli(["node", "hcloud-swarm", ...args]);
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return code;
}

async function mustRun(args: string[]): Promise<void> {
  const code = await run(args);
  if (code !== 0) throw new Error(`\`hcloud-swarm ${args.join(" ")}\` exited ${code}; see above`);
}

async function demo(): Promise<number> {
  const started = Date.now();
  step("1/5  local up: 3 nodes, each a real sshd + dockerd in its own namespaces");
  await mustRun(["local", "up", "--nodes", "3", "--managers", "1", "--dir", dir]);

  step("2/5  bootstrap: form the swarm over SSH with pinned host keys");
  // The inventory exactly as `local up` wrote it: no node labels. Deploy pins the templates' data itself.
  const inv = loadInventory(demoInventory);
  await mustRun(["bootstrap", "--inventory", demoInventory]);

  step("3/5  stacks: lint refuses the seed post's stack; the corrected templates deploy");
  const seedFile = path.join(dir, "seed-post-stack.yml");
  fs.writeFileSync(seedFile, SEED_STACK);
  const lintCode = await run(["stack", "lint", seedFile]);
  const refusals = lintText(SEED_STACK, seedFile, "seed-post-stack").length;
  // Not refused is a failure of the demo, counted below (the demo then exits 1).
  console.log(
    lintCode === 1
      ? "(refused, as it should be: this stack is NOT deployed)"
      : `UNEXPECTED: lint exited ${lintCode} on the seed stack; the demo will fail`,
  );
  console.log("\nThe corrected templates, with --local-images because no registry is reachable here:");
  for (const [name, vars] of STACKS) {
    await mustRun([
      "stack",
      "deploy",
      name,
      "--inventory",
      demoInventory,
      ...vars,
      "--local-images",
      LOCAL_IMAGE,
      "--secrets-file",
      path.join(secretsDir, `${name}.env`),
    ]);
  }
  console.log("\nDeploying both again must change nothing:");
  const s = await connectManager(inv);
  const versions = async () => (await stackServices(s)).map((x) => `${x.name}@${x.version}`).join(",");
  const before = await versions();
  for (const [name, vars] of STACKS)
    await mustRun([
      "stack",
      "deploy",
      name,
      "--inventory",
      demoInventory,
      ...vars,
      "--local-images",
      LOCAL_IMAGE,
      "--secrets-file",
      path.join(secretsDir, `${name}.env`),
    ]);
  const redeployChanged = (await versions()) === before ? 0 : 1;

  step("4/5  every overlay network of the cluster, then verify");
  const networks = await overlayNetworks(s);
  const rows = [
    ["NETWORK", "ENCRYPTED", "MTU OPTION", "KIND"],
    ...networks.map((n) => [
      n.name,
      "encrypted" in n.options ? "yes" : "NO",
      n.options[MTU_OPTION] ?? "MISSING",
      n.ingress
        ? "ingress (routing mesh)"
        : n.labels["com.docker.stack.namespace"]
          ? `stack ${n.labels["com.docker.stack.namespace"]}`
          : "external",
    ]),
  ];
  const width = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(width[i])).join("  "));
  const verifyCode = await run(["verify", "--inventory", demoInventory]);
  console.log(
    `(verify exit code ${verifyCode}: 0 = all proven, 1 = something failed, 2 = nothing failed but something is unprovable here)`,
  );

  console.log(
    "\nData plane, measured: a container on worker-2 pings one on worker-1; worker-2 counts the VXLAN packets it sends.",
  );
  const key = fs.readFileSync(inv.nodes[0].privateKeyPath ?? "", "utf8");
  const node = (name: string) => inv.nodes.find((n) => n.name === name) ?? inv.nodes[0];
  const [a, b] = await Promise.all([connect(node("worker-2"), key), connect(node("worker-1"), key)]);
  let probes: LeakProbeResult[] = [];
  try {
    // A plain overlay made here by hand (lint would refuse it in a stack), only as the control.
    await s.run("docker network create --driver overlay --attachable demo_plain_control");
    probes = [
      await probeVxlan(a, b, "demo_plain_control", LOCAL_IMAGE),
      await probeVxlan(a, b, "traefik_public", LOCAL_IMAGE, { stopWhenBlocked: true }),
    ];
  } finally {
    a.close();
    b.close();
    await s.run("docker network rm demo_plain_control", { allowFailure: true });
  }
  for (const p of probes)
    console.log(
      `  ${p.network.padEnd(20)} ping ${p.reached ? "answered" : "NOT answered"}, ${p.vxlanPackets} plain VXLAN packet(s) left worker-2`,
    );

  step("5/5  what this run proved, and what this machine cannot prove");
  const services = await stackServices(s);
  const nodes = await readNodes(s);
  const secrets = [...(await secretNames(s))].sort();
  s.close();
  const secretValues = STACKS.flatMap(([name]) => {
    const file = path.join(secretsDir, `${name}.env`);
    return fs.existsSync(file)
      ? fs
          .readFileSync(file, "utf8")
          .split("\n")
          .filter((l) => /^\w+=/.test(l))
          .map(
            (l) =>
              l
                .slice(l.indexOf("=") + 1)
                .split(":")
                .pop() as string,
          )
      : [];
  });
  const verify = await verifyCluster(inv);
  const { proven, notProven, broken } = summarise({
    networks,
    services,
    nodes,
    secrets,
    secretValues,
    mtu: inv.swarm?.overlayMtu ?? 1500,
    redeployActions: redeployChanged,
    lintRefusals: refusals,
    lintExitCode: lintCode,
    verify,
    kernel: await detectKernelFeatures(),
    probes,
  });
  console.log("PROVEN here, with real sshd, dockerd and docker stack deploy:");
  for (const p of proven) console.log(`  + ${p}`);
  console.log("\nNOT PROVABLE on this machine (never counted as a pass):");
  for (const p of notProven) console.log(`  ? ${p}`);
  if (broken.length) {
    console.log("\nFAILED:");
    for (const p of broken) console.log(`  - ${p}`);
  }
  console.log(`\nGenerated passwords: ${secretsDir}/*.env (mode 0600); printed nowhere.`);
  console.log(`Demo took ${((Date.now() - started) / 1000).toFixed(1)} s. The cluster is still running: try`);
  console.log(`  npx hcloud-swarm verify --inventory ${demoInventory}`);
  console.log(
    `  ssh -i ${dir}/id_ed25519 -o UserKnownHostsFile=${dir}/known_hosts root@${inv.nodes[0].host} docker service ls`,
  );
  console.log("Remove everything with: npm run demo:down");
  return broken.length > 0 ? 1 : 0;
}

demo().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(
      `\ndemo failed: ${err instanceof Error ? err.message : String(err)}\nClean up with: npm run demo:down`,
    );
    process.exit(1);
  },
);
