/**
 * A fault to inject, for the tests that prove one socket's failure stays that socket's: when the
 * environment variable TS_SSL_INJECT_FAULT is set when the bridge starts, a socket that receives
 * bytes containing its value throws in its data handler. Unset, as in production, it does nothing.
 */
const marker = process.env.TS_SSL_INJECT_FAULT;

export const injectFault: (received: Buffer) => void =
  marker === undefined || marker === ""
    ? () => {}
    : (received) => {
        if (received.includes(marker)) throw new Error(`fault injected on receiving ${JSON.stringify(marker)}`);
      };
