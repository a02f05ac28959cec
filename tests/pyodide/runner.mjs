// Runs tests/pyodide/scenarios.py inside Pyodide (CPython in WebAssembly) under Node.
//
//   node --experimental-wasm-stack-switching tests/pyodide/runner.mjs WHEEL_DIR [CONFIG_JSON]
//
// WHEEL_DIR holds pgpipe's wheel and its dependencies' wheels: every *.whl in
// it is unpacked into Pyodide's site-packages (nothing is fetched: the run is
// offline). CONFIG_JSON (else the PGPIPE_PYODIDE_CONFIG environment variable)
// says where the server is: {"host", "port", "dbname", "superuser", "users":
// {method: [user, password]}}. Blocking sockets come from NodeSockFS, which
// needs JSPI (the stack-switching flag); the asyncio adapter uses Node's net
// module through pgpipe._jssocket.
//
// Prints one line per scenario (PASS name / FAIL name: reason), FIGURE lines,
// and a summary line; exits 0 only when every scenario passed.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadPyodide } from "pyodide";

const here = path.dirname(fileURLToPath(import.meta.url));

function fail(message) {
  console.log(`SUMMARY runner error: ${message}`);
  process.exit(2);
}

const [wheelDir, configArg] = process.argv.slice(2);
if (!wheelDir) fail("usage: runner.mjs WHEEL_DIR [CONFIG_JSON]");
const configText = configArg ?? process.env.PGPIPE_PYODIDE_CONFIG;
if (!configText) fail("no configuration: pass CONFIG_JSON or set PGPIPE_PYODIDE_CONFIG");
try {
  JSON.parse(configText);
} catch (error) {
  fail(`CONFIG_JSON is not JSON: ${error.message}`);
}
const wheels = fs.readdirSync(wheelDir).filter((name) => name.endsWith(".whl")).sort();
if (!wheels.some((name) => /^pgpipe-[^-]+-/.test(name))) fail(`no pgpipe wheel in ${wheelDir}`);

// An unhandled rejection would end Node with a stack trace through the
// (megabytes long) minified pyodide.asm.mjs line: report it briefly instead.
process.on("unhandledRejection", (reason) => {
  console.log(`UNHANDLED rejection: ${String(reason?.message ?? reason).slice(0, 500)}`);
  process.exitCode = 3;
});

const started = performance.now();
const py = await loadPyodide({ stdout: (line) => console.log(line), stderr: (line) => console.error(line) });
await py.useNodeSockFS();
const sitePackages = py.runPython("import sysconfig; sysconfig.get_path('purelib')");
for (const name of wheels) {
  const data = new Uint8Array(fs.readFileSync(path.join(wheelDir, name)));
  py.unpackArchive(data, "wheel", { extractDir: sitePackages });
}
const loadedMs = performance.now() - started;

py.globals.set("PGPIPE_PYODIDE_CONFIG", configText);
const source = fs.readFileSync(path.join(here, "scenarios.py"), "utf8");
let outcome;
try {
  // scenarios.py defines main(): it runs every scenario and returns JSON,
  // {"passed": n, "failed": [names]}.
  await py.runPythonAsync(source, { filename: "scenarios.py" });
  outcome = JSON.parse(await py.runPythonAsync("await main()"));
} catch (error) {
  fail(`scenarios.py raised: ${String(error?.message ?? error).split("\n").slice(-12).join("\n")}`);
}
const totalMs = performance.now() - started;
console.log(`FIGURE pyodide_load_ms ${loadedMs.toFixed(0)}`);
console.log(`FIGURE total_ms ${totalMs.toFixed(0)}`);
const failed = outcome.failed.length;
console.log(
  failed
    ? `SUMMARY ${failed} of ${outcome.passed + failed} scenarios failed: ${outcome.failed.join(", ")}`
    : `SUMMARY all ${outcome.passed} scenarios passed`,
);
// Exit now: a socket left open by a failed scenario must not keep Node running.
process.exit(failed || process.exitCode ? 1 : 0);
