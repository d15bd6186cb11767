/**
 * `edgecrew device`: runs a fleet device — serves the workers of the given agents whose models it has to the
 * crews of a NATS hub, until SIGINT / SIGTERM (running subtasks are then handed back to the hub for another
 * device). `edgecrew fleet`: lists the devices a hub knows.
 */
import { resolve } from "node:path";
import type { Command } from "commander";
import { readAgentFile } from "../../crew.js";
import { EdgecrewError, ErrorCodes } from "../../errors.js";
import type { AgentDefinition } from "../../types.js";
import { formatBytes } from "../../workers/formatBytes.js";
import { cliApproval } from "../approval.js";
import { type CliIo, ExitCode } from "../io.js";
import type { CommandOutcome } from "../main.js";
import { loadToolsModule } from "../toolsModule.js";
import { parseMemoryFlag, parsePositiveInt } from "./run.js";

interface DeviceFlags {
  hub?: string;
  name?: string;
  workers?: string;
  memory?: number;
  threads?: number;
  tools?: string;
  yes?: boolean;
  heartbeat?: number;
}

/** The hub of a command: `--hub`, else the agents' `fleet.hub` (all the same), else a USAGE error. */
function hubOf(flag: string | undefined, agents: readonly AgentDefinition[]): string {
  if (flag !== undefined) return flag;
  const hubs = [...new Set(agents.flatMap((agent) => (agent.fleet === undefined ? [] : [agent.fleet.hub])))];
  if (hubs.length === 1 && hubs[0] !== undefined) return hubs[0];
  throw new EdgecrewError(
    ErrorCodes.USAGE,
    hubs.length === 0
      ? "no hub: pass --hub nats://host:4222 or set fleet.hub in the agent file"
      : `the agents name different hubs (${hubs.join(", ")}): pass --hub`,
  );
}

export function registerDeviceCommand(program: Command, io: CliIo, outcome: CommandOutcome): void {
  program
    .command("device")
    .description("serve the workers of agents to a fleet through a NATS JetStream hub")
    .argument("<agents...>", "agent YAML files whose workers this device may serve")
    .option("--hub <url>", "the hub, nats://[user:password@]host:4222 (default: the agents' fleet.hub)")
    .option("--name <name>", "this device's name in the fleet (default: the host name)")
    .option(
      "--workers <names>",
      "serve only these workers (comma-separated; default: every worker whose model is here)",
    )
    .option(
      "--memory <size>",
      "memory budget for models, overriding device.memory (e.g. 6GiB)",
      parseMemoryFlag,
    )
    .option("--threads <n>", "llama.cpp threads, overriding device.threads", parsePositiveInt)
    .option("--tools <module>", "an ES module exporting the tools defined in code that the workers grant")
    .option("-y, --yes", "approve every call of tools marked approve (without it such calls are denied)")
    .option("--heartbeat <seconds>", "seconds between registry heartbeats (default 5)", parsePositiveInt)
    .addHelpText(
      "after",
      "\nCredentials: in the URL, or EDGECREW_HUB_USER / EDGECREW_HUB_PASSWORD or EDGECREW_HUB_TOKEN; TLS files:" +
        "\nEDGECREW_HUB_CA, EDGECREW_HUB_CERT, EDGECREW_HUB_KEY. Models are never downloaded by a device: hf: models" +
        "\nmust be in the models directory already (edgecrew models pull)." +
        "\n\nExamples:\n  edgecrew device --hub nats://hub.local:4222 agents/jetson-local.yaml --name jetson-1 --memory 6GiB" +
        "\n  edgecrew device agents/offline-demo.yaml --workers researcher,scheduler",
    )
    .action(async (agentPaths: string[], flags: DeviceFlags) => {
      const tools = flags.tools === undefined ? [] : await loadToolsModule(flags.tools, io.cwd);
      const agents: AgentDefinition[] = [];
      for (const path of agentPaths)
        agents.push((await readAgentFile(resolve(io.cwd, path), { tools })).agent);
      const workers = flags.workers
        ?.split(",")
        .map((name) => name.trim())
        .filter((name) => name !== "");
      if (workers !== undefined) {
        const known = new Set(agents.flatMap((agent) => agent.workers.map((w) => w.name)));
        const unknown = workers.filter((name) => !known.has(name));
        if (unknown.length > 0) {
          throw new EdgecrewError(
            ErrorCodes.USAGE,
            `--workers: no agent has a worker named ${unknown.join(", ")}`,
          );
        }
      }
      const { startDevice, redactUrl } = await import("../../fleet/index.js");
      const hub = hubOf(flags.hub, agents);
      const log = (line: string) => io.stderr.write(`edgecrew device: ${line}\n`);
      const device = await startDevice({
        hub,
        agents,
        ...(flags.name === undefined ? {} : { name: flags.name }),
        ...(workers === undefined ? {} : { workers }),
        device: {
          ...(flags.memory === undefined ? {} : { memoryBytes: flags.memory }),
          ...(flags.threads === undefined ? {} : { threads: flags.threads }),
        },
        tools,
        onApproval: cliApproval({ ...io, ask: undefined }, { yes: flags.yes === true }),
        ...(flags.heartbeat === undefined ? {} : { heartbeatSeconds: flags.heartbeat }),
        log,
      });
      io.stdout.write(
        `device ${device.name} ready at ${redactUrl(hub)}: ${device.served.map((w) => `${w.agent}/${w.worker}`).join(", ")}\n`,
      );
      const signal = await new Promise<string>((resolveStop) => {
        const removeInterrupt = io.onInterrupt(() => resolveStop("SIGINT"));
        const onTerm = () => resolveStop("SIGTERM");
        process.once("SIGTERM", onTerm);
        void device.stopped.then(() => resolveStop("stopped"));
        void device.stopped.finally(() => {
          removeInterrupt();
          process.off("SIGTERM", onTerm);
        });
      });
      log(`${signal}: handing running subtasks back and freeing the models`);
      await device.stop();
      outcome.code = ExitCode.OK;
    });

  program
    .command("fleet")
    .description("list the devices of a fleet's hub: state, workers, models, memory, last heartbeat")
    .argument("[agent]", "an agent YAML file whose fleet.hub to use (instead of --hub)")
    .option("--hub <url>", "the hub, nats://[user:password@]host:4222")
    .option("--json", "print the devices as one JSON array")
    .action(async (agentPath: string | undefined, flags: { hub?: string; json?: boolean }) => {
      const agents = agentPath === undefined ? [] : [(await readAgentFile(resolve(io.cwd, agentPath))).agent];
      const { openHub, listDevices } = await import("../../fleet/index.js");
      await using hub = await openHub({ url: hubOf(flags.hub, agents), name: "edgecrew-fleet" });
      const devices = await listDevices(hub.devices);
      if (flags.json === true) {
        io.stdout.write(`${JSON.stringify(devices)}\n`);
        outcome.code = ExitCode.OK;
        return;
      }
      if (devices.length === 0) io.stdout.write(`no devices at ${hub.address}\n`);
      const now = Date.now();
      for (const device of devices) {
        const ago = Math.max(0, Math.round((now - device.lastHeartbeat.getTime()) / 1000));
        const alive = ago <= 3 * device.heartbeatSeconds;
        const memory = `${formatBytes(device.memory.residentBytes)} of ${device.memory.budgetBytes === undefined ? "no budget" : formatBytes(device.memory.budgetBytes)}`;
        io.stdout.write(
          `${device.name}  ${alive ? (device.busy > 0 ? `busy (${device.busy})` : "idle") : "gone"}  last heartbeat ${ago} s ago  memory ${memory}  gpu ${device.gpu === false ? "none" : device.gpu}\n`,
        );
        for (const worker of device.workers) {
          const resident = device.resident.includes(worker.model) ? "resident" : "not loaded";
          io.stdout.write(`  ${worker.agent}/${worker.worker}  ${worker.model}  ${resident}\n`);
        }
      }
      outcome.code = ExitCode.OK;
    });
}
