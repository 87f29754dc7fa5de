// Long CPU work on the request thread, in slices: a step-wise generator is advanced for at most
// SLICE_MS at a time, then other requests get the event loop. One import parses and checks
// thousands of values; without this, every other request would wait for all of it.

const SLICE_MS = 4;

export async function runInSlices<T>(steps: Generator<unknown, T>, sliceMs = SLICE_MS): Promise<T> {
  let sliceStart = performance.now();
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (performance.now() - sliceStart >= sliceMs) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
}

/** For async loops with little I/O: `await pace()` lets other requests in every SLICE_MS. */
export function pacer(sliceMs = SLICE_MS): () => Promise<void> {
  let sliceStart = performance.now();
  return async () => {
    if (performance.now() - sliceStart < sliceMs) return;
    await new Promise((resolve) => setImmediate(resolve));
    sliceStart = performance.now();
  };
}
