#!/usr/bin/env node
// Generates TypeScript for every .proto under proto/ with protoc (Debian's
// protobuf-compiler) and ts-proto (nestJs=true) into libs/proto/src/gen.
// `node scripts/proto-gen.js --out <dir>` writes elsewhere (used by the freshness test).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const protoDir = path.join(root, 'proto');
const outIndex = process.argv.indexOf('--out');
const out = outIndex > 0 ? path.resolve(process.argv[outIndex + 1]) : path.join(root, 'libs/proto/src/gen');
const options = ['nestJs=true', 'addGrpcMetadata=true', 'esModuleInterop=true', 'useOptionals=messages', 'outputIndex=false'];

function protoFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return protoFiles(full);
    return entry.name.endsWith('.proto') ? [path.relative(protoDir, full)] : [];
  });
}

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
try {
  execFileSync(
    'protoc',
    [
      `--plugin=protoc-gen-ts_proto=${path.join(root, 'node_modules/.bin/protoc-gen-ts_proto')}`,
      `--ts_proto_out=${out}`,
      `--ts_proto_opt=${options.join(',')}`,
      `-I${protoDir}`,
      ...protoFiles(protoDir).sort(),
    ],
    { cwd: root, stdio: 'inherit' },
  );
} catch (error) {
  if (error.code === 'ENOENT') {
    console.error('protoc is not installed: apt-get install -y protobuf-compiler');
    process.exit(1);
  }
  process.exit(error.status ?? 1);
}
