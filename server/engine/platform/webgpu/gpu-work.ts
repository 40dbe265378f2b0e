/**
 * Counts a device's queue submissions and compute dispatches while it runs: the "one command
 * buffer per step" check (E32) and the probe's dispatches-per-step figure. Wraps
 * `device.queue.submit` and `GPUComputePassEncoder.prototype.dispatchWorkgroups` until `stop()`.
 */
export interface GpuWorkCounter {
  submits: number;
  /** Command buffers submitted (a submit may carry several). */
  commandBuffers: number;
  dispatches: number;
  stop(): void;
}

export function countGpuWork(device: GPUDevice): GpuWorkCounter {
  const queue = device.queue as GPUQueue & { submit: GPUQueue['submit'] };
  const submit = queue.submit;
  const proto = (globalThis as unknown as { GPUComputePassEncoder: { prototype: GPUComputePassEncoder } }).GPUComputePassEncoder.prototype;
  const dispatch = proto.dispatchWorkgroups;
  const counter: GpuWorkCounter = {
    submits: 0,
    commandBuffers: 0,
    dispatches: 0,
    stop() {
      queue.submit = submit;
      proto.dispatchWorkgroups = dispatch;
    },
  };
  queue.submit = function (this: GPUQueue, buffers: Iterable<GPUCommandBuffer>) {
    counter.submits++;
    counter.commandBuffers += [...buffers].length;
    return submit.call(this, buffers);
  } as GPUQueue['submit'];
  proto.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...args: Parameters<GPUComputePassEncoder['dispatchWorkgroups']>) {
    counter.dispatches++;
    return dispatch.apply(this, args);
  };
  return counter;
}
