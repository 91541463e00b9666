/** The namespace bed as a bed driver (../driver.ts): real sshd and dockerd in namespaces on this kernel. */
import { spawn } from "child_process";
import type { BedDriver } from "../driver";
import { isEmptyRequest, selectNodes } from "../common/shape-request";
import { openBed, upBed } from "./ns-bed";
import { detectKernelFeatures } from "./kernel";
import { nodeCommand } from "./node";
import { latencyNote, readShape, shapeNodes } from "./shape";
import { downBed } from "./state";
import { bedStatus, formatStatus } from "./status";

export const nsBedDriver: BedDriver = {
  kind: "ns",
  title: "namespace bed",
  nodeNoun: "nodes",
  detailHeading: "NETNS",
  logHint: (dir) => `${dir}/nodes/<node>/{dockerd,sshd}.log`,

  async up(o) {
    const bed = await upBed({ dir: o.dir, nodes: o.nodes, managers: o.managers, install: o.install, log: o.log });
    return {
      kind: "ns",
      dir: bed.dir,
      inventoryPath: bed.inventoryPath,
      knownHostsPath: bed.knownHostsPath,
      privateKeyPath: bed.privateKeyPath,
      totalMs: bed.timings.total,
      nodes: bed.nodes.map((n) => ({ name: n.name, role: n.role, address: n.ip, detail: n.netns })),
      notes: [`bridge ${bed.ctx.names.bridge}, ${bed.ctx.names.subnet}`],
    };
  },

  async down(dir) {
    return (await downBed(dir)).removed.map((k) => `namespace bed hsw${k}`);
  },

  async status(dir) {
    return formatStatus(await bedStatus(dir));
  },

  async statusJson(dir) {
    const s = await bedStatus(dir);
    const nodes = s.nodes.map((n) => ({
      name: n.name,
      role: n.role,
      address: n.ip,
      privateAddress: null,
      running: n.sshd || n.dockerd,
      sshd: n.sshd,
      dockerd: n.dockerd,
      engine: n.engine ?? null,
      rssMiB: null,
    }));
    const kernel = s.kernel.map((f) => ({
      name: f.name,
      available: f.available,
      detail: f.detail,
      consequence: f.consequence,
    }));
    return {
      command: "local status",
      dir: s.dir,
      kind: s.bridge ? "namespace" : null,
      network: s.bridge ? { bridge: s.bridge, subnet: s.subnet ?? null } : null,
      accelerator: null,
      nodes,
      kernel,
    };
  },

  exec(dir, node, command) {
    const bed = openBed(dir);
    const rec = bed.nodes.find((n) => n.name === node);
    if (!rec) throw new Error(`no node "${node}" in ${bed.dir}; nodes: ${bed.nodes.map((n) => n.name).join(", ")}`);
    // Inside the node's namespaces without SSH, on this terminal: interactive commands work.
    const [cmd, ...args] = nodeCommand(bed.ctx, rec, 'exec "$@"', command);
    return new Promise((resolve, reject) => {
      spawn(cmd, args, { stdio: "inherit" })
        .on("error", reject)
        .on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
    });
  },

  async shape(dir, names, req) {
    const bed = openBed(dir);
    const actions = !isEmptyRequest(req) ? await shapeNodes(bed.ctx, selectNodes(bed.nodes, names), req) : [];
    const shapes = await Promise.all(
      selectNodes(bed.nodes, names.length > 0 ? names : ["all"]).map((n) => readShape(bed.ctx, n)),
    );
    return { actions, shapes, note: await latencyNote() };
  },

  async hostKernelNotes() {
    return (await detectKernelFeatures()).filter((x) => !x.available).map((f) => `no ${f.name}: ${f.consequence}`);
  },
};
