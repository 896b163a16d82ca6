/**
 * The soak of soak.ts for 2 minutes: 1,000 echo loops on 4 erl nodes; zero errors, and the
 * bridge's RSS and fds flat after the warm-up. `npm run soak -- --minutes N` runs it longer.
 */
import { expect, it } from "vitest";
import { soak } from "./soak.js";

const minutes = 2;

it(`soak, ${minutes} minutes: 1,000 echo loops, zero errors, RSS and fds flat after the warm-up`, async () => {
  const r = await soak({ minutes });
  expect(r.errors).toBe(0);
  expect(r.windows.length).toBeGreaterThanOrEqual(minutes * 6 - 1);
  expect(r.rssFlat).toBe(true);
  expect(r.fdsFlat).toBe(true);
  expect(r.ok).toBe(true);
}, (minutes * 60 + 180) * 1000);
