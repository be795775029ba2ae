// Reference side of tools/bench_tokenizer.cpp: encodes a text file with the reference
// JavaScript encoder and reports the time.
//
//   node tools/bench_tokenizer_ref.js --family qwen3|llama3|gpt2|tiny --text FILE --ids-out FILE
//
// Prints "<seconds> <package@version>" on the first line and writes the ids as little-endian
// int32 to --ids-out. Timing covers encode() only (loading is excluded, as on the C++ side).
"use strict";
const fs = require("fs");
const path = require("path");

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
const root = path.resolve(__dirname, "..");
const cache = process.env.RLVR_CACHE_DIR ? path.join(process.env.RLVR_CACHE_DIR, "tokenizer") : path.join(root, ".cache", "tokenizer");
const version = (dir) => {
  const pkg = JSON.parse(fs.readFileSync(path.join(cache, dir, "package.json"), "utf8"));
  return `${pkg.name}@${pkg.version}`;
};

let encode, name;
if (args.family === "qwen3" || args.family === "llama3") {
  const dir = `tokenizer-${args.family}`;
  const tok = require(path.join(cache, dir)).fromPreTrained();
  encode = (t) => tok.encode(t, { add_special_tokens: false });
  name = version(dir);
} else if (args.family === "gpt2") {
  const enc = require(path.join(cache, "gpt-3-encoder"));
  encode = (t) => enc.encode(t);
  name = version("gpt-3-encoder");
} else if (args.family === "tiny") {
  const { TokenizerLoader } = require(path.join(cache, "tokenizers"));
  const json = JSON.parse(fs.readFileSync(path.join(root, "tests/fixtures/tokenizer/tiny_tokenizer.json"), "utf8"));
  const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig: {} });
  encode = (t) => tok.encode(t, { add_special_tokens: false });
  name = version("tokenizers");
} else {
  console.error(`unknown family ${args.family}`);
  process.exit(1);
}
const text = fs.readFileSync(args.text, "utf8");
const t0 = process.hrtime.bigint();
const ids = encode(text);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
fs.writeFileSync(args["ids-out"], Buffer.from(Int32Array.from(ids).buffer));
console.log(`${seconds} ${name}`);
