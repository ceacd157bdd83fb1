// Preloaded into a child process a test measures (`node --expose-gc --import <this> main.js`):
// SIGUSR2 runs a full garbage collection, so memory is compared without the garbage a busy process
// has not collected yet (a heap "grown" by uncollected garbage is not a leak).
const gc = (globalThis as { gc?: () => void }).gc;
process.on("SIGUSR2", () => gc?.());
export {};
