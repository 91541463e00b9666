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
  ["Slow by nature: software emulation runs a guest several times slower than the host, and a 2-core machine shared with other work slows it further (figures below).", "the figures are on a lab page now; \"(figures below)\" became a link to it"],
  ["docs/ dynamic-providers.md: the rules for code that runs inside a Pulumi dynamic provider", "the layout's docs/ line now lists the new tree; the rules are docs/design/dynamic-providers.md"],
]);
const missing = units.filter((u) => !docs.includes(u) && !CHANGED.has(u));
for (const [u, why] of CHANGED) if (units.includes(u)) console.log(`CHANGED: ${u}\n  -> ${why}`);
for (const m of missing) console.log(`MISSING: ${m}`);
console.log(`${units.length - missing.length} of ${units.length} README units found in docs/; ${missing.length} missing`);
process.exitCode = missing.length ? 1 : 0;
