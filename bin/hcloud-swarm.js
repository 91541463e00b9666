#!/usr/bin/env node
// The CLI is compiled by `npm run build` (run automatically by `npm ci` through `prepare`).
const path = require("path");
const fs = require("fs");
const entry = path.join(__dirname, "..", "dist", "cli", "main.js");
if (!fs.existsSync(entry)) {
  console.error("hcloud-swarm is not built yet: run `npm run build` in " + path.join(__dirname, ".."));
  process.exit(1);
}
require(entry)
  .main(process.argv)
  .catch((err) => {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
