/**
 * The layer rules, checked by `npm test` (`npm run check`): the codec knows nothing of the
 * distribution node, and the node nothing of the ssl semantics built on it.
 */
module.exports = {
  forbidden: [
    {
      name: "etf-is-the-bottom-layer",
      comment: "etf/ (the External Term Format) imports nothing of bridge/ or ts-ssl/.",
      severity: "error",
      from: { path: "^etf/" },
      to: { path: "^(bridge|ts-ssl)/" },
    },
    {
      name: "bridge-knows-no-ssl",
      comment: "bridge/ (the distribution node) imports nothing of ts-ssl/.",
      severity: "error",
      from: { path: "^bridge/" },
      to: { path: "^ts-ssl/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(dist|_build|node_modules)/" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
  },
};
