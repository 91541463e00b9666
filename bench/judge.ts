/**
 * `npm run bench:judge`: what judging a stack costs, per judge, on the local test bed:
 * - `docker stack config` on the manager (over the open SSH session, the file on stdin),
 * - `docker stack config` of this machine's Docker CLI (a local process per file),
 * - the Docker-dialect reader (in process),
 * each on the rendered traefik and wordpress templates, and lint of that reading.
 * Prints figures (fastest–slowest of BENCH_REPEAT runs, default 5), asserts nothing. Needs root;
 * uses its own one-node bed and removes it, also when interrupted.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { bootstrap } from "../bootstrap/bootstrap";
import { downBed, upBed } from "../local";
import { overlayNetworks } from "../swarm/facts";
import { connectManager } from "../swarm/manager-session";
import { REMOTE_DIR, renderFor } from "../stacks/deploy/deploy";
import { dialectJudge, type Judgement, localJudge, managerContext, managerJudge } from "../stacks/reading/judge";
import { lintJudged } from "../stacks/lint/lint";
import { stackText } from "../stacks/reading/stack-text";
import { lintContext } from "../stacks/deploy/plan";
import { loadStackFile } from "../stacks/template/template";

const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
const DIR = path.join(os.tmpdir(), "hcloud-swarm-bench", "judge");
const VARS: Record<string, Record<string, string>> = {
  traefik: { acme_email: "ops@example.com", dashboard_domain: "t.example.com" },
  wordpress: { domain: "blog.example.com" },
};

const ms = (x: number): string => `${x.toFixed(x < 10 ? 1 : 0)} ms`;
const span = (xs: number[]): string => `${ms(Math.min(...xs))}–${ms(Math.max(...xs))}`;

async function timed<T>(f: () => Promise<T> | T): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const r = await f();
  return [r, Number(process.hrtime.bigint() - t) / 1e6];
}

async function main(): Promise<void> {
  const stop = (): void => void downBed(DIR).finally(() => process.exit(130));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  try {
    const bed = await upBed({ dir: DIR, nodes: 1, managers: 1, install: false });
    const key = fs.readFileSync(bed.privateKeyPath, "utf8");
    await bootstrap(bed.inventory, { privateKeyFor: () => key });
    const s = await connectManager(bed.inventory);
    try {
      const m = await managerContext(s, REMOTE_DIR);
      const ctx = lintContext({ networks: await overlayNetworks(s) });
      const rows = [["template", "judge", "judge", "lint of its reading"]];
      for (const name of ["traefik", "wordpress"]) {
        const source = loadStackFile(name);
        const rendered = renderFor({ source, vars: VARS[name], inventory: bed.inventory });
        // A fresh StackText per run: a kept one would hand the dialect judge its reading already made.
        const req = () => ({ judged: stackText(rendered.text, source.file), baseDir: m.baseDir, env: m.env });
        const judges: Array<[string, () => Promise<Judgement | undefined> | Judgement]> = [
          [`docker stack config on ${m.node}`, () => managerJudge(s, m, req().judged, [])],
          ["docker stack config, this machine", () => localJudge(req(), { remoteBaseDir: m.baseDir })],
          ["Docker-dialect reader", () => dialectJudge(req())],
        ];
        for (const [label, judge] of judges) {
          const times: number[] = [];
          const lints: number[] = [];
          for (let i = 0; i < REPEAT; i++) {
            const [j, t] = await timed(judge);
            if (!j?.data)
              throw new Error(
                `${label} did not judge ${name}: ${j?.problems.map((p) => p.message).join("; ") ?? "unavailable"}`,
              );
            const [findings, tl] = await timed(() =>
              lintJudged(
                {
                  source: stackText(source.text, source.file),
                  stack: name,
                  judgement: j,
                  meta: rendered.meta,
                },
                ctx,
              ),
            );
            if (findings.length > 0)
              throw new Error(`${name} refused by ${label}: ${findings.map((f) => f.message).join("; ")}`);
            times.push(t);
            lints.push(tl);
          }
          rows.push([name, label, span(times), span(lints)]);
        }
      }
      const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
      console.log(
        `judging the rendered templates, ${REPEAT} runs each (fastest–slowest), 1-node bed, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}`,
      );
      for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join("  "));
    } finally {
      s.close();
    }
  } finally {
    await downBed(DIR);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
