/**
 * Fleets: the same runtime with its workers on other devices, through a NATS JetStream hub. Loaded lazily (by
 * crew.ts when an agent has a hub, by the `device` and `fleet` commands), so that a single-process crew never
 * loads a NATS client.
 */
import type { AgentDefinition } from "../types.js";
import { openHub } from "./hub.js";
import { RemoteWorkers } from "./RemoteWorkers.js";

export { type Device, type DeviceOptions, startDevice } from "./device.js";
export { type Hub, type HubOptions, openHub, parseHubUrl, redactUrl } from "./hub.js";
export type { DeviceInfo, ServedWorker } from "./protocol.js";
export { RemoteWorkers, type RemoteWorkersOptions } from "./RemoteWorkers.js";
export { type ListedDevice, listDevices } from "./registry.js";

/** Opens the hub and returns the worker port that sends the agent's subtasks to its devices. */
export async function createRemoteWorkers(agent: AgentDefinition, hub: string): Promise<RemoteWorkers> {
  const opened = await openHub({ url: hub, name: `edgecrew-${agent.name}` });
  return new RemoteWorkers({ hub: opened, agent });
}
