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
const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith(".md") ? [path.join(d, e.name)] : []));
const norm = (t) => t.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/\*\*|__/g, "").replace(/^\s*(#+\s|[-*]\s|\d+\.\s|\|)/gm, " ").replace(/\s+/g, " ").trim();
const docs = norm(walk("docs").map((f) => fs.readFileSync(f, "utf8")).join("\n"));

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
  ["What only Hetzner can show: the API itself (names, ids, rate limits, actions), quotas and server types, the real images (Ubuntu, Hetzner's Debian) and their boot times, Docker CE from Docker's apt repository (the bed's image has Debian's docker.io), the cloud firewall, placement groups, IPv6, and real CPUs (here every VM is emulated, and the figures below are minutes where Hetzner takes seconds).", "a cross-reference (above/below) became a link to the page that now holds it"],
  ["The second form stopped with `worker-8 could not join: … 503 Timeout was reached before node joined`: docker says the join goes on in the background, and bootstrap now waits for it (above).", "a cross-reference (above/below) became a link to the page that now holds it"],
  ["`existing-network` | (deploy) An existing network the stack would use that is plain or lacks the cluster's MTU, and cannot be recreated: see \"Deploy\" below. |", "a cross-reference (above/below) became a link to the page that now holds it"],
  ["checks, before changing anything, that every service of that reading can run (see \"Placement pins\" below): a placement constraint Docker would refuse, a key its scheduler does not know (`node.lables.x`, which Docker accepts and never schedules), a label no node has and no pin declares, constraints no node meets together, or an external secret that does not exist, each refuses the stack with every problem at once, naming the service and the fix:", "a cross-reference (above/below) became a link to the page that now holds it"],
  ["A stack that cannot start (deploy stopped early, above) fails the `pulumi up` with the reason and the fix.", "a cross-reference (above/below) became a link to the page that now holds it"],
  ["`npm run demo` end to end: 62–74 s on an idle machine (three runs; 62.4 s with the 5 s stability window below).", "a cross-reference (above/below) became a link to the page that now holds it"],
  ["The probe is the longest part because the encrypted overlay's ping is tried 20 times, one second each, before its silence counts (above); the plain control answers at the first try.", "a cross-reference (above/below) became a link to the page that now holds it"],
  ["Since deploy waits out Docker's 5 s window (above), every deploy takes at least 5 s more than its tasks need to start: in the latest demo run `traefik` 6.8 s, `wordpress` 8.1 s.", "a cross-reference (above/below) became a link to the page that now holds it"],
  ["No-op redeploy: 5.6–5.7 s of convergence check (the 5 s window above, read once a second; it was 1.1 s with two reads a second apart, 0.0–0.1 s with a single read);", "a cross-reference (above/below) became a link to the page that now holds it"],
  ["On this machine the growth from 1 + 2 to 1 + 16 (table above) comes from 17 engines sharing two cores.", "a cross-reference (above/below) became a link to the page that now holds it"],
  ["The same holds for 1 + 8 (`bench:bootstrap:vm` above): 196.3 s with 25 ms between locations, 265.9 s with none.", "a cross-reference (above/below) became a link to the page that now holds it"],
  ["Slow by nature: software emulation runs a guest several times slower than the host, and a 2-core machine shared with other work slows it further (figures below).", "the figures are on a lab page now; \"(figures below)\" became a link to it"],
  ["docs/ dynamic-providers.md: the rules for code that runs inside a Pulumi dynamic provider", "the layout's docs/ line now lists the new tree; the rules are docs/design/dynamic-providers.md"],
]);
const missing = units.filter((u) => !docs.includes(u) && !CHANGED.has(u));
for (const [u, why] of CHANGED) if (units.includes(u)) console.log(`CHANGED: ${u}\n  -> ${why}`);
for (const m of missing) console.log(`MISSING: ${m}`);
console.log(`${units.length - missing.length} of ${units.length} README units found in docs/; ${missing.length} missing`);
process.exitCode = missing.length ? 1 : 0;
