// The bridge's command line. The distribution peer is not wired in yet.
console.error("ts-ssl bridge: the distribution peer is not built yet; nothing to run.");
process.exitCode = 1;
