/**
 * A CPU profile of this process (V8's sampling profiler through node:inspector),
 * summarized: where the main thread's time went, by area and by function, self and
 * inclusive. Used by the engine benchmark for an extra, separately timed pass only:
 * sampling slows the process down a little.
 */
import { Session } from 'node:inspector';
import * as path from 'node:path';
import { fmt } from './engine-support';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

function post<T = unknown>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result as T)));
  });
}

export class Profiler {
  private readonly session = new Session();

  async start(intervalMicros = 500): Promise<void> {
    this.session.connect();
    await post(this.session, 'Profiler.enable');
    await post(this.session, 'Profiler.setSamplingInterval', { interval: intervalMicros });
    await post(this.session, 'Profiler.start');
  }

  async stop(): Promise<CpuProfile> {
    const { profile } = await post<{ profile: CpuProfile }>(this.session, 'Profiler.stop');
    await post(this.session, 'Profiler.disable');
    this.session.disconnect();
    return profile;
  }
}

const ROOT = path.resolve(__dirname, '..', '..');

function shortUrl(url: string): string {
  let file = url.replace(/^file:\/\//, '');
  if (file.startsWith(ROOT)) file = file.slice(ROOT.length + 1);
  return file.replace(/^.*node_modules\//, 'node_modules/');
}

/** Which part of the program a frame belongs to. */
function area(frame: CallFrame): string {
  const url = shortUrl(frame.url);
  if (!url) {
    if (['(garbage collector)', '(idle)', '(program)', '(root)'].includes(frame.functionName)) return frame.functionName;
    return '(native/builtin)';
  }
  const module = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (module) return `npm ${module[1]}`;
  if (url.startsWith('node:')) return 'node core';
  const own = /^dist\/(libs\/[^/]+|services\/[^/]+\/src\/[^/]+|bench)/.exec(url);
  if (own) return own[1];
  return url;
}

function frameKey(frame: CallFrame): string {
  const url = shortUrl(frame.url);
  return `${frame.functionName || '(anonymous)'}${url ? ` ${url}:${frame.lineNumber + 1}` : ''}`;
}

export interface ProfileSummary {
  durationMs: number;
  /** [area, ms] by self time, largest first. */
  areas: [string, number][];
  /** [function, ms] by self time. */
  self: [string, number][];
  /** [function, ms] inclusive (a function that calls itself counts once). */
  inclusive: [string, number][];
}

export function summarize(profile: CpuProfile): ProfileSummary {
  const durationMs = (profile.endTime - profile.startTime) / 1000;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totalHits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0);
  const msPerHit = totalHits > 0 ? durationMs / totalHits : 0;
  const areas = new Map<string, number>();
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const children = new Set(profile.nodes.flatMap((node) => node.children ?? []));
  const roots = profile.nodes.filter((node) => !children.has(node.id));

  // Inclusive hits per node, then per function without counting recursion twice.
  const walk = (node: ProfileNode, open: Set<string>): number => {
    const key = frameKey(node.callFrame);
    const hits = node.hitCount ?? 0;
    areas.set(area(node.callFrame), (areas.get(area(node.callFrame)) ?? 0) + hits * msPerHit);
    self.set(key, (self.get(key) ?? 0) + hits * msPerHit);
    const first = !open.has(key);
    if (first) open.add(key);
    let total = hits;
    for (const id of node.children ?? []) total += walk(byId.get(id)!, open);
    if (first) {
      open.delete(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + total * msPerHit);
    }
    return total;
  };
  for (const root of roots) walk(root, new Set());
  const sorted = (map: Map<string, number>) => [...map.entries()].sort((a, b) => b[1] - a[1]);
  return { durationMs, areas: sorted(areas), self: sorted(self), inclusive: sorted(inclusive) };
}

export function formatSummary(summary: ProfileSummary, options: { top: number; per: { label: string; count: number } }): string[] {
  const lines: string[] = [];
  const share = (ms: number) => `${fmt(ms, 0).padStart(7)} ms ${fmt((ms / summary.durationMs) * 100, 1).padStart(5)}%`;
  lines.push(`  main thread over ${fmt(summary.durationMs)} ms; per ${options.per.label}: ms / ${fmt(options.per.count)}`);
  lines.push('  by area (self time):');
  for (const [name, ms] of summary.areas.slice(0, options.top)) {
    lines.push(`    ${share(ms)}  ${fmt((ms * 1000) / options.per.count, 0).padStart(6)} us/${options.per.label}  ${name}`);
  }
  lines.push('  functions by self time:');
  for (const [name, ms] of summary.self.filter(([key]) => !/^\((idle|program|root)\)/.test(key)).slice(0, options.top)) {
    lines.push(`    ${share(ms)}  ${fmt((ms * 1000) / options.per.count, 0).padStart(6)} us/${options.per.label}  ${name}`);
  }
  lines.push('  our code (dist/), inclusive time:');
  for (const [name, ms] of summary.inclusive.filter(([key]) => / dist\//.test(key)).slice(0, options.top)) {
    lines.push(`    ${share(ms)}  ${fmt((ms * 1000) / options.per.count, 0).padStart(6)} us/${options.per.label}  ${name}`);
  }
  return lines;
}

/** Inclusive ms of the functions whose key matches (e.g. `^evolve `), summed. */
export function inclusiveOf(summary: ProfileSummary, pattern: RegExp): number {
  return summary.inclusive.filter(([key]) => pattern.test(key)).reduce((sum, [, ms]) => sum + ms, 0);
}
