/**
 * How much young generation a gateway's V8 heap gets. V8 grows a process's two semi-spaces to
 * 16 MB each as soon as many objects survive a scavenge (loading the modules, a thousand open
 * streams) and keeps them; 4 MB semi-spaces serve the gateway as fast (see docs/benchmarks.md,
 * "Soak") with 25 MB less resident. Only a start-up option bounds them: `--max-semi-space-size`
 * for a process (cluster workers), `resourceLimits` for a thread (the single-process gateway,
 * cli/serve-thread.ts).
 */
export const GATEWAY_SEMI_SPACE_MB = 4;
/** V8's young generation is three semi-spaces: two for scavenging, one for large objects. */
export const GATEWAY_YOUNG_GENERATION_MB = 3 * GATEWAY_SEMI_SPACE_MB;

const SEMI_SPACE_OPTION = '--max-semi-space-size';

/** A semi-space size the operator chose (a Node option or NODE_OPTIONS) is theirs to keep. */
export function semiSpaceChosen(): boolean {
  return [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) => arg.includes(SEMI_SPACE_OPTION));
}

/** Node options for a cluster worker: the primary's own, with the semi-space bound unless one was chosen. */
export function workerExecArgv(): string[] {
  return semiSpaceChosen()
    ? process.execArgv
    : [...process.execArgv, `${SEMI_SPACE_OPTION}=${GATEWAY_SEMI_SPACE_MB}`];
}
