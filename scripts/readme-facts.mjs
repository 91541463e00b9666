#!/usr/bin/env node
/* global process, console */
// One-off audit for issue 21's README split: every sentence of the old README (read from git) must
// still be found in docs/ (whitespace, emphasis and link syntax normalised). Prints what is missing.
//   node scripts/readme-facts.mjs [COMMIT]     (default 14b867a, the last commit with the long README)
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const commit = process.argv[2] ?? "14b867a";
const old = execFileSync("git", ["show", `${commit}:README.md`], { encoding: "utf8" });
const walk = (d) =>
  fs
    .readdirSync(d, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith(".md") ? [path.join(d, e.name)] : [],
    );
const norm = (t) =>
  t
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/\*\*|__/g, "")
    .replace(/^\s*(#+\s|[-*]\s|\d+\.\s|\|)/gm, " ")
    .replace(/\s+/g, " ")
    .trim();
const docs = norm(
  walk("docs")
    .map((f) => fs.readFileSync(f, "utf8"))
    .join("\n"),
);

// Code blocks are compared line by line, prose sentence by sentence.
const units = [];
let inCode = false;
let para = [];
const flush = () => {
  const text = norm(para.join(" "));
  para = [];
  for (const s of text.split(/(?<=[.:;!?])\s+(?=[A-Z`"(])/)) if (s.split(" ").length >= 3) units.push(s);
};
for (const line of old.split("\n")) {
  if (line.startsWith("```")) {
    flush();
    inCode = !inCode;
    continue;
  }
  if (inCode) {
    if (line.trim().length > 3) units.push(norm(line));
  } else if (line.trim() === "" || line.startsWith("#")) flush();
  else if (line.trim().startsWith("|")) {
    flush();
    if (!/^\|[-| ]+\|$/.test(line.trim())) units.push(norm(line));
  } else {
    // A list item starts a sentence of its own.
    if (/^\s*([-*]|\d+\.)\s/.test(line)) flush();
    para.push(line);
  }
}
flush();
// Changed on purpose, with where the fact lives now.
const CHANGED = new Map([
  [
    "What only Hetzner can show: the API itself (names, ids, rate limits, actions), quotas and server types, the real images (Ubuntu, Hetzner's Debian) and their boot times, Docker CE from Docker's apt repository (the bed's image has Debian's docker.io), the cloud firewall, placement groups, IPv6, and real CPUs (here every VM is emulated, and the figures below are minutes where Hetzner takes seconds).",
    "a cross-reference (above/below) became a link to the page that now holds it",
  ],
  [
    "The second form stopped with `worker-8 could not join: … 503 Timeout was reached before node joined`: docker says the join goes on in the background, and bootstrap now waits for it (above).",
    "a cross-reference (above/below) became a link to the page that now holds it",
  ],
  [
    '`existing-network` | (deploy) An existing network the stack would use that is plain or lacks the cluster\'s MTU, and cannot be recreated: see "Deploy" below. |',
    "a cross-reference (above/below) became a link to the page that now holds it",
  ],
  [
    'checks, before changing anything, that every service of that reading can run (see "Placement pins" below): a placement constraint Docker would refuse, a key its scheduler does not know (`node.lables.x`, which Docker accepts and never schedules), a label no node has and no pin declares, constraints no node meets together, or an external secret that does not exist, each refuses the stack with every problem at once, naming the service and the fix:',
    "a cross-reference (above/below) became a link to the page that now holds it",
  ],
  [
    "A stack that cannot start (deploy stopped early, above) fails the `pulumi up` with the reason and the fix.",
    "a cross-reference (above/below) became a link to the page that now holds it",
  ],
  [
    "`npm run demo` end to end: 62–74 s on an idle machine (three runs; 62.4 s with the 5 s stability window below).",
    "a cross-reference (above/below) became a link to the page that now holds it",
  ],
  [
    "The probe is the longest part because the encrypted overlay's ping is tried 20 times, one second each, before its silence counts (above); the plain control answers at the first try.",
    "a cross-reference (above/below) became a link to the page that now holds it",
  ],
  [
    "Since deploy waits out Docker's 5 s window (above), every deploy takes at least 5 s more than its tasks need to start: in the latest demo run `traefik` 6.8 s, `wordpress` 8.1 s.",
    "a cross-reference (above/below) became a link to the page that now holds it",
  ],
  [
    "No-op redeploy: 5.6–5.7 s of convergence check (the 5 s window above, read once a second; it was 1.1 s with two reads a second apart, 0.0–0.1 s with a single read);",
    "a cross-reference (above/below) became a link to the page that now holds it",
  ],
  [
    "On this machine the growth from 1 + 2 to 1 + 16 (table above) comes from 17 engines sharing two cores.",
    "a cross-reference (above/below) became a link to the page that now holds it",
  ],
  [
    "The same holds for 1 + 8 (`bench:bootstrap:vm` above): 196.3 s with 25 ms between locations, 265.9 s with none.",
    "a cross-reference (above/below) became a link to the page that now holds it",
  ],
  [
    "Slow by nature: software emulation runs a guest several times slower than the host, and a 2-core machine shared with other work slows it further (figures below).",
    'the figures are on a lab page now; "(figures below)" became a link to it',
  ],
  [
    "docs/ dynamic-providers.md: the rules for code that runs inside a Pulumi dynamic provider",
    "the layout's docs/ line now lists the new tree; the rules are docs/design/dynamic-providers.md",
  ],
  // After the merges of i21rooms (moves and renames), i22 (lint round 3) and i23 (fail closed).
  [
    "Each member carries the label `hcloud-swarm.firewall` (a hash of the list it enforces), so members already in step are not contacted.",
    "since issue 23 the label spares members a connection only before joins; docs/design/security.md says so",
  ],
  [
    "Docker's apt repository is out of reach), `serverType cx23` (a name the program requires), both sample stacks, and the stacks' test-bed-only `localImage` through a Pulumi stack transformation: the applications themselves are not tested.",
    'product text says bed, not test-bed (i21rooms): "the stacks\' bed-only localImage" in docs/getting-started/rehearsal.md',
  ],
  [
    "Every wait and every remote command has a timeout (named constants in `transport/ssh.ts`, `bootstrap/swarm-ops.ts`, `bootstrap/run.ts` and `swarm/`), and the error says what it was waiting for.",
    "bootstrap/run.ts is bootstrap/bootstrap.ts (i21rooms); docs/design/bootstrap.md names it",
  ],
  [
    "`wordpress` | WordPress + MySQL 8.4 on an encrypted `internal` overlay. Passwords come only from Docker secrets (`*_FILE`). Traefik v3 labels use the `domain` variable. Volumes on the node that holds the pin `wordpress-data`. | `domain`, `db_name` (wordpress), `db_user` (wordpress) |",
    "the template gained setup_allow_from (issue 22); the row in docs/guides/stacks.md lists it",
  ],
  [
    "the Docker-dialect reader (`stacks/dialect*.ts`) | both | no CLI with the command: it reads as yaml.v3 does (merge keys, `0…`/`0x`/`0o`/`0b`/`_` integers, only `true`/`false` as booleans, NEL/LS/PS as line breaks), interpolates and casts as Docker does, and refuses what it does not imitate (timestamps, custom tags, `env_file`) |",
    "the reader now reads env_file (issue 22); the row in docs/reference/lint-rules.md says so",
  ],
  [
    '`unencrypted-overlay` | A network the stack creates as an overlay (`driver: overlay`, or no driver) without `driver_opts: {encrypted: ""}`, named by its real name (`<stack>_<key>`, or its `name:`). Also a service with no `networks:`: it joins the implicit `<stack>_default` overlay, which is plain unless `networks.default` is declared encrypted. (The overlay driver only checks that `encrypted` is present: `encrypted: "false"` encrypts too.) |',
    "lint round 3 (issue 22) rewrote this rule; its row in docs/reference/lint-rules.md",
  ],
  [
    "`external-network` | An external overlay, by its real name (`external: {name: X}`, `name: X`), that is not known to be encrypted. It is known to be encrypted if (a) it is listed under `x-hcloud-swarm: external-networks:`, because deploy then creates it encrypted with the MTU; or (b) it is seen encrypted in the cluster. One that exists plain is always refused. |",
    "lint round 3 (issue 22) rewrote this rule; its row in docs/reference/lint-rules.md",
  ],
  [
    "`plain-secret` | A credential in plain `environment` (merged and interpolated values included): a name containing PASSWORD, PASSWD, PWD, SECRET, TOKEN, API_KEY, ACCESS_KEY, PRIVATE_KEY, CREDENTIAL, AUTH_KEY or SALT with a value (not `*_FILE`, not `/run/secrets/…`), or a URL with `user:password@`. Use a Docker secret and the image's `*_FILE` variable. |",
    "lint round 3 (issue 22) rewrote this rule; its row in docs/reference/lint-rules.md",
  ],
  [
    "`public-port` | A published port (as Docker reads it: `06352` is 3306) that no service should publish: the swarm's own ports 2377, 7946 and 4789 and the Docker API ports 2375/2376; database/cache ports (3306, 5432, 6379, 11211, 27017, 9200, 5984, 9042); any port in `ingress` mode (the default) unless the cluster's ingress is seen encrypted. Edge services publish with `mode: host`. Ranges are checked as ranges. |",
    "lint round 3 (issue 22) rewrote this rule; its row in docs/reference/lint-rules.md",
  ],
  [
    "`host-access` | `privileged: true`, each `cap_add` capability, `network_mode: host`, and joining the host network (an external network whose real name is `host`), unless declared (below). |",
    "lint round 3 (issue 22) rewrote this rule; its row in docs/reference/lint-rules.md",
  ],
  [
    "`file-outside` | A `secrets`/`configs` `file:` or an `env_file` outside the stack's directory (for deploy: the upload directory on the manager). Docker reads it on the machine that deploys and hands it to the service: `file: ../../etc/shadow` would ship the manager's `/etc/shadow`. |",
    "lint round 3 (issue 22) rewrote this rule; its row in docs/reference/lint-rules.md",
  ],
  [
    "has a judge read the rendered file (see Lint), and lints that reading with those facts, the lines mapped back to the template.",
    "the judge interpolates with an empty environment (issue 22); docs/design/deploy-pipeline.md step 3 says so",
  ],
  [
    "When a bed opens, the cache is pruned: images a running bed boots from, images used within the last hour and the three most recently used stay; older ones, leftovers of interrupted builds and stale KVM probe results go, and `up` says what it removed (`local/vm/cache.ts`).",
    "local/vm/cache.ts is local/vm/guest-disk-cache.ts (i21rooms); docs/guides/local-test-beds.md",
  ],
  [
    "The programmatic API (`local/vm/bed.ts`), which `local up --vm` and the rehearsal of `pulumi up` use:",
    "local/vm/bed.ts is local/vm/vm-bed.ts (i21rooms); docs/guides/local-test-beds.md",
  ],
  [
    "It takes a fixed number of sequential round trips, plus one per wave of up to 8 joins and label updates (`JOIN_CONCURRENCY`):",
    "issue 24 replaced this list (labels last in one command, firewalls in one wave before the joins); docs/design/bootstrap.md, Round trips",
  ],
  [
    "inspect all nodes in parallel;",
    "issue 24 replaced this list (labels last in one command, firewalls in one wave before the joins); docs/design/bootstrap.md, Round trips",
  ],
  [
    "init, ingress and the tokens;",
    "issue 24 replaced this list (labels last in one command, firewalls in one wave before the joins); docs/design/bootstrap.md, Round trips",
  ],
  [
    "the managers join one by one;",
    "issue 24 replaced this list (labels last in one command, firewalls in one wave before the joins); docs/design/bootstrap.md, Round trips",
  ],
  [
    "the workers join and are labelled in parallel waves;",
    "issue 24 replaced this list (labels last in one command, firewalls in one wave before the joins); docs/design/bootstrap.md, Round trips",
  ],
  [
    "the host firewalls are updated in parallel;",
    "issue 24 replaced this list (labels last in one command, firewalls in one wave before the joins); docs/design/bootstrap.md, Round trips",
  ],
  [
    "one node list.",
    "issue 24 replaced this list (labels last in one command, firewalls in one wave before the joins); docs/design/bootstrap.md, Round trips",
  ],
  [
    "common/ small shared helpers: collected validation problems, OpenSSH key generation, waiting (time.ts), CIDR arithmetic,",
    "the layout block was redrawn from ls after i21rooms; docs/design/architecture.md",
  ],
  [
    "hostfw/ the nodes' host firewall, pure: rule set, node script and boot unit (cloud-init and bootstrap use it)",
    "the layout block was redrawn from ls after i21rooms; docs/design/architecture.md",
  ],
  [
    "transport/ the one SSH module (ssh.ts, pinned host keys), shell quoting, redaction of secrets",
    "the layout block was redrawn from ls after i21rooms; docs/design/architecture.md",
  ],
  [
    "swarm/ docker swarm commands more than one room runs (node updates with their retry rule)",
    "the layout block was redrawn from ls after i21rooms; docs/design/architecture.md",
  ],
  [
    "infra/ config validation, pure plans (nodes, firewalls, cloud-init), the SwarmCluster component",
    "the layout block was redrawn from ls after i21rooms; docs/design/architecture.md",
  ],
  [
    "bootstrap/ swarm inspect/plan/act, the SwarmNode dynamic provider",
    "the layout block was redrawn from ls after i21rooms; docs/design/architecture.md",
  ],
  [
    "deploy/rm, placement (constraints, pins, precheck), the convergence wait and its verdicts, the",
    "the layout block was redrawn from ls after i21rooms; docs/design/architecture.md",
  ],
  [
    "StackSecrets and stacks dynamic providers",
    "the layout block was redrawn from ls after i21rooms; docs/design/architecture.md",
  ],
  [
    "verify/ proof that the cluster encrypts: checks (pure) and the evidence collected over SSH",
    "the layout block was redrawn from ls after i21rooms; docs/design/architecture.md",
  ],
  [
    "local/ the local test beds: bed.ts (one interface, both kinds) and what both kinds use (bed directory ids,",
    "the layout block was redrawn from ls after i21rooms; docs/design/architecture.md",
  ],
  [
    "client key, node names and roles, inventory files, sshd banner probe, the busybox image, shaping);",
    "the layout block was redrawn from ls after i21rooms; docs/design/architecture.md",
  ],
  [
    "ns/ the namespace bed (namespaces, bridge, sshd, dockerd, teardown); vm/ the VM bed (image, qemu,",
    "the layout block was redrawn from ls after i21rooms; docs/design/architecture.md",
  ],
  [
    "networks, seeds, the programmatic API). Neither kind's folder imports the other's.",
    "the layout block was redrawn from ls after i21rooms; docs/design/architecture.md",
  ],
  [
    "cli/ the hcloud-swarm command (one module per command family)",
    "the layout block was redrawn from ls after i21rooms; docs/design/architecture.md",
  ],
  [
    "rehearse/ npm run rehearse: the program on VMs, with only the Hetzner API and Pulumi's engine stood in for",
    "the layout block was redrawn from ls after i21rooms; docs/design/architecture.md",
  ],
  [
    "bench/ npm run bench:testbed, npm run bench:bootstrap, npm run bench:bootstrap:vm, npm run bench:judge, npm run bench:resilience",
    "the layout block was redrawn from ls after i21rooms; docs/design/architecture.md",
  ],
  [
    "The stacks are deployed after the whole cluster, swarm membership included, by a dynamic resource (`stacks/provider.ts`) that runs the same code as `stack deploy`.",
    "stacks/ was split into six rooms; the provider is stacks/pulumi/provider.ts (docs/guides/stacks.md)",
  ],
  [
    "their values are made by a separate resource, `StackSecrets` (`stacks/secret-values.ts`), and kept in the state as secrets before any Docker secret exists; the stacks resource then creates the Docker secrets from them (a value made and kept once per secret name, carried over every later `pulumi up`);",
    "stacks/ was split into six rooms; the resource is stacks/pulumi/secret-values.ts (docs/guides/stacks.md)",
  ],
  [
    "`bed.shape(nodes, {lossPercent, cpuPercent, frozen, sshStalled})` in `test/support/testbed.ts`.",
    "the test harness says bed, not testbed: test/support/bed-fixture.ts (docs/guides/local-test-beds.md)",
  ],
  [
    "stacks/ templates/, renderer, lint and its judges (Docker's `docker stack config`, the Docker-dialect reader),",
    "the layout block was redrawn after stacks/ was split into six rooms; docs/design/architecture.md",
  ],
]);
const missing = units.filter((u) => !docs.includes(u) && !CHANGED.has(u));
for (const [u, why] of CHANGED) if (units.includes(u)) console.log(`CHANGED: ${u}\n  -> ${why}`);
for (const m of missing) console.log(`MISSING: ${m}`);
console.log(
  `${units.length - missing.length} of ${units.length} README units found in docs/; ${missing.length} missing`,
);
process.exitCode = missing.length ? 1 : 0;
