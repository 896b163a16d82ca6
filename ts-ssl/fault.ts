/**
 * A fault to inject, for the tests that prove one socket's failure stays that socket's: when the
 * bridge is started with the environment variable TS_SSL_INJECT_FAULT set (launch.ts reads it), a
 * socket that receives bytes containing its value throws in its data handler. Unset, as in
 * production, it does nothing.
 */
let marker: string | undefined;

/** Arms the fault for bytes containing `value`; undefined or empty disarms it. */
export function setInjectedFault(value: string | undefined): void {
  marker = value === "" ? undefined : value;
}

export function injectFault(received: Buffer): void {
  if (marker !== undefined && received.includes(marker)) throw new Error(`fault injected on receiving ${JSON.stringify(marker)}`);
}
