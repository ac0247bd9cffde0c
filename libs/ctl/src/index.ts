/**
 * @tessera/ctl — the operator CLI behind `tessera ctl`: per-stage status (replicas, JetStream
 * backlog, GPU pool, model revision), scale, autoscale pause/resume, rollout restart, logs.
 */
export { runCtl, CTL_SUMMARY, CTL_USAGE, type CtlIo } from './ctl.js';
export { parseArgs, type GlobalOptions, type ParsedArgs } from './args.js';
export { connect, Kube } from './kube.js';
export { collectStatus, type ClusterStatus, type StageStatus, type GpuNode } from './status.js';
export { readBacklog, type ConsumerBacklog } from './jetstream-backlog.js';
export { collectSites, formatSites, type SiteStatus } from './sites.js';
export { scaleStage, type ScaleResult } from './scale.js';
export { setAutoscalePaused, type AutoscaleResult } from './autoscale.js';
export { restartStage, type RestartResult } from './restart.js';
export { stageLogs, type LogsOptions } from './logs.js';
export { STAGES, STAGE_NAMES, parseStage, type StageInfo, type StageName } from './stages.js';
