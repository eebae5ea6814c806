// The zaxos package's entry: one ES module for browsers and node.
//
// wasm-bindgen's `--target web` glue (zaxos.js) loads the .wasm with fetch(), which node cannot
// do for a file: URL. So this module loads it itself: with fetch in a browser (or any host
// serving the package over http), with a file read in node; then it exports the classes,
// ready to use after `import` (top-level await).
import init from "./zaxos.js";

const url = new URL("zaxos_bg.wasm", import.meta.url);
if (url.protocol === "file:") {
  // Node 20's V8 (11.3) aborts the whole process ("Fatal error ... unreachable code" in the
  // deoptimizer) when optimised JS that inlined a call into wasm returning an externref is
  // deoptimised during that call, which the JS objects built by this package's calls make
  // likely. Turning that inlining off costs a little call overhead and avoids the abort.
  try {
    const { setFlagsFromString } = await import("node:v8");
    setFlagsFromString("--no-turbo-inline-js-wasm-calls");
  } catch {
    // Not node's V8: nothing to turn off.
  }
  const { readFile } = await import("node:fs/promises");
  await init({ module_or_path: await readFile(url) });
} else {
  await init({ module_or_path: url });
}

export * from "./zaxos.js";
