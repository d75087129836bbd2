#!/usr/bin/env node
// Generates TypeScript for every .proto under proto/ with ts-proto (nestJs=true).
// `node scripts/proto-gen.js --out <dir>` writes elsewhere (used by the freshness test).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const outIndex = process.argv.indexOf('--out');
const out = outIndex > 0 ? path.resolve(process.argv[outIndex + 1]) : path.join(root, 'libs/proto/src/gen');
const buf = path.join(root, 'node_modules/.bin/buf');
const template = JSON.stringify({
  version: 'v2',
  plugins: [
    {
      local: path.join(root, 'node_modules/.bin/protoc-gen-ts_proto'),
      out,
      opt: ['nestJs=true', 'addGrpcMetadata=true', 'esModuleInterop=true', 'useOptionals=messages', 'outputIndex=false'],
    },
  ],
});
fs.rmSync(out, { recursive: true, force: true });
execFileSync(buf, ['generate', '--template', template], { cwd: root, stdio: 'inherit' });
