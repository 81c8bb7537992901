// Compiles the project's Solidity with solc-js (pinned in package.json) into
// {abi, bytecode, deployedBytecode} JSON artifacts.
//   node scripts/evm/compile.mjs [OUT_DIR]     (default: crates/localnet/evm/build)
import fs from "fs";
import path from "path";
import solc from "solc";
import { fileURLToPath } from "url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const out = path.resolve(process.argv[2] || path.join(root, "crates/localnet/evm/build"));
const dirs = ["crates/localnet/evm/contracts"];
const sources = {};
for (const dir of dirs)
  for (const f of fs.readdirSync(path.join(root, dir)).filter((f) => f.endsWith(".sol")).sort())
    sources[`${dir}/${f}`] = { content: fs.readFileSync(path.join(root, dir, f), "utf8") };

const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    // solc defaults to the newest EVM (osaka); cancun also runs on chains that lag behind.
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};
const result = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (result.errors || []).filter((e) => e.severity === "error");
for (const e of result.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

fs.mkdirSync(out, { recursive: true });
let n = 0;
for (const file of Object.keys(result.contracts))
  for (const [name, c] of Object.entries(result.contracts[file])) {
    if (!c.evm.bytecode.object) continue; // interfaces and abstract contracts
    const artifact = { abi: c.abi, bytecode: "0x" + c.evm.bytecode.object, deployedBytecode: "0x" + c.evm.deployedBytecode.object };
    fs.writeFileSync(path.join(out, `${name}.json`), JSON.stringify(artifact) + "\n");
    n++;
  }
console.log(`solc ${solc.version()}: ${n} contracts -> ${path.relative(root, out) || out}`);
