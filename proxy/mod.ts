/**
 * Proxy modes: the sidecar (`mesh sidecar`) and, from `gateway*.ts`, the gateway. Shared pieces:
 * identity from flags, the admin server, request metrics, lifecycle (readiness, signals, drain)
 * and the runtime that ties the configuration source to the pipeline.
 *
 * @module
 */

export { sidecarCommand } from "./command.ts";
export { gatewayCommand } from "./gateway.ts";
export * from "./admin.ts";
export * from "./identity.ts";
export * from "./lifecycle.ts";
export * from "./metrics.ts";
export * from "./runtime.ts";
export { runSidecar, type SidecarSettings, sidecarSettings } from "./sidecar.ts";
