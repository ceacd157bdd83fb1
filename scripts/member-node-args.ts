// The Node options each process of `npm run cluster` (and of the system test's cluster) starts with.
// V8 sizes a process's heap from the machine's memory, not from what the process needs: on this 23 GiB
// machine the gateway grew to 380 MB RSS under overload and the scheduling replicas to 190 MB. With a
// 128 MB old space and 8 MB semi-spaces the same workload ran at the same rate with the gateway at
// 184-220 MiB; with 96 MB at 183 MiB, the services at 104-127 MiB either way (their heaps stay well
// under the cap; the gateway's live heap after a full GC is about 55 MB, see test/gateway/edge-fuzz).
// In Kubernetes Node sizes its heap from the container's memory limit, up to all of it; the
// Deployments set NODE_OPTIONS=--max-old-space-size=256 for that. 112 MB since issue 20: the
// gateway's live heap grew to 53 MiB with the clinic model's API, and at 96 MB a flood of 3,000 watch
// streams (test/gateway/stream-limits) ran it out of memory when the machine was busy.

/** DEFAULT_HEAP_MB is each member's V8 old-space cap unless CLUSTER_HEAP_MB says otherwise. */
export const DEFAULT_HEAP_MB = 112;

/**
 * memberNodeArgs is the Node options for one member: the heap caps (CLUSTER_HEAP_MB, default 112;
 * 0 leaves V8's own sizing) and then CLUSTER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof",
 * which NODE_OPTIONS does not accept).
 */
export function memberNodeArgs(env: NodeJS.ProcessEnv = process.env): string[] {
  const raw = env.CLUSTER_HEAP_MB;
  const heapMb = raw === undefined || raw === "" ? DEFAULT_HEAP_MB : Number(raw);
  if (!Number.isInteger(heapMb) || heapMb < 0) throw new Error(`CLUSTER_HEAP_MB must be a whole number of MiB (0 for V8's default), got "${raw}"`);
  const heap = heapMb > 0 ? [`--max-old-space-size=${heapMb}`, "--max-semi-space-size=8"] : [];
  return [...heap, ...(env.CLUSTER_NODE_ARGS ?? "").split(/\s+/).filter(Boolean)];
}
