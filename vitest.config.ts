import { defineConfig } from "vitest/config";

// Interop tests start real `erl` nodes and EPMD daemons; on a 2-core machine running
// many files at once only makes every node slower to boot, so files run two at a time.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    fileParallelism: true,
    pool: "forks",
  },
});
