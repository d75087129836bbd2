import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/processes';

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full, base) : [path.relative(base, full)];
  });
}

describe('generated gRPC code', () => {
  it('is what `npm run proto:gen` produces from proto/ today', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'co-proto-'));
    try {
      execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts/proto-gen.js'), '--out', out], { cwd: REPO_ROOT });
      const checkedIn = path.join(REPO_ROOT, 'libs/proto/src/gen');
      const fresh = listFiles(out).sort();
      expect(listFiles(checkedIn).sort()).toEqual(fresh);
      for (const file of fresh) {
        const stale = readFileSync(path.join(checkedIn, file), 'utf8') !== readFileSync(path.join(out, file), 'utf8');
        if (stale) throw new Error(`libs/proto/src/gen/${file} is stale: run "npm run proto:gen" and commit the result`);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
