/** The VM bed as a bed driver (../driver.ts): Debian VMs under qemu; it alone can cut a node's power. */
import type { BedDriver } from "../driver";
import { canonicalDir } from "../common/bed-dir";
import { isEmptyRequest, selectNodes } from "../common/shape-request";
import { powerOffVm, powerOnVm } from "./power";
import { readVmShape, shapeVmNodes, vmShapeContext } from "./shape";
import { readVmBedStatus, vmBedStatus, vmExec } from "./status";
import { upVmBed } from "./up";
import { downVmBed } from "./vm-bed";

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export const vmBedDriver: BedDriver = {
  kind: "vm",
  title: "VM bed",
  nodeNoun: "VMs",
  detailHeading: "DETAIL",
  logHint: (dir) => `${dir}/vms/<node>/console.log`,

  async up(o) {
    const r = await upVmBed({ dir: o.dir, nodes: o.nodes, managers: o.managers, install: o.install, log: o.log });
    return {
      kind: "vm",
      dir: r.bed.dir,
      inventoryPath: r.inventoryPath,
      knownHostsPath: r.knownHostsPath,
      privateKeyPath: r.privateKeyPath,
      totalMs: r.totalMs,
      nodes: r.nodes.map((n) => ({
        name: n.name,
        role: n.role,
        address: n.vm.publicIpv4,
        detail: `private ${n.vm.privateIp}; sshd ${secs(n.times.sshdMs)}, cloud-init done ${secs(n.times.cloudInitMs)}, docker ${secs(n.times.dockerMs)} (${n.times.engine})${n.rssMiB !== undefined ? `; qemu RSS ${n.rssMiB} MiB` : ""}`,
      })),
      notes: [
        `namespace ${r.bed.names.netns}: public ${r.bed.names.publicSubnet} (bridge pub, MTU 1500), private ${r.bed.privateCidr} (bridge priv, MTU 1450)`,
        `accelerator ${r.bed.accel.toUpperCase()}: ${r.bed.accelReason}`,
        `bed ready in ${secs(r.bedMs)} (guest image ${r.bed.imageBuilt ? "built" : "from the cache"}), nodes ready ${secs(r.totalMs - r.bedMs)} later`,
      ],
    };
  },

  async down(dir) {
    const r = await downVmBed(dir);
    return [...r.removed.map((k) => `VM bed hsv${k}`), ...(r.stopped > 0 ? [`${r.stopped} qemu process(es)`] : [])];
  },

  status: (dir) => vmBedStatus(dir),

  async statusJson(dir) {
    const s = await readVmBedStatus(dir);
    if (!s)
      return {
        command: "local status",
        dir: canonicalDir(dir),
        kind: null,
        network: null,
        accelerator: null,
        nodes: [],
        kernel: null,
      };
    const nodes = s.vms.map((v) => ({
      name: v.name,
      role: v.role,
      address: v.publicIp,
      privateAddress: v.privateIp,
      running: v.running,
      sshd: v.sshd,
      dockerd: v.engine !== undefined,
      engine: v.engine ?? null,
      rssMiB: v.rssMiB ?? null,
    }));
    return {
      command: "local status",
      dir: s.dir,
      kind: "vm",
      network: { namespace: s.namespace, publicSubnet: s.publicSubnet, privateCidr: s.privateCidr },
      accelerator: { name: s.accelerator, reason: s.acceleratorReason },
      nodes,
      kernel: null,
    };
  },

  exec: (dir, node, command) => vmExec(dir, node, command, process.stdout, process.stderr),

  async shape(dir, names, req) {
    const ctx = vmShapeContext(dir);
    const actions = !isEmptyRequest(req) ? await shapeVmNodes(ctx, selectNodes(ctx.inventory.nodes, names), req) : [];
    const shapes = await Promise.all(
      selectNodes(ctx.inventory.nodes, names.length > 0 ? names : ["all"]).map((n) => readVmShape(ctx, n)),
    );
    return { actions, shapes, note: "" };
  },

  power: {
    off: (dir, node) => powerOffVm(dir, node),
    async on(dir, node) {
      await powerOnVm(dir, node);
    },
  },
};
