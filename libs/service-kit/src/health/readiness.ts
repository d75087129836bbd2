import type { EventBus } from '@co/bus';
import type { Database } from '@co/eventstore';

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; error?: string }>;
}

const CHECK_TIMEOUT_MS = 2000;

/** Ready = accepting work, database answers, bus answers. */
export class Readiness {
  private accepting = false;
  private readonly stopListeners = new Set<() => void>();

  constructor(
    private readonly db: Database,
    private readonly bus: EventBus,
  ) {}

  setAccepting(accepting: boolean) {
    const stopping = this.accepting && !accepting;
    this.accepting = accepting;
    if (stopping) for (const listener of [...this.stopListeners]) listener();
  }

  /**
   * Called when the service stops accepting work, before it waits for open HTTP
   * connections: long-lived streams (live tails, WebSockets) close here, or the
   * graceful stop would wait for them. Returns the unsubscribe function.
   */
  onStopAccepting(listener: () => void): () => void {
    this.stopListeners.add(listener);
    return () => this.stopListeners.delete(listener);
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  async check(): Promise<ReadinessReport> {
    const [database, bus] = await Promise.all([probe(() => this.db.ping()), probe(() => this.bus.ping())]);
    const checks: ReadinessReport['checks'] = {
      accepting: this.accepting ? { ok: true } : { ok: false, error: 'starting or shutting down' },
      database,
      bus,
    };
    return { ready: Object.values(checks).every((check) => check.ok), checks };
  }
}

async function probe(check: () => Promise<void>): Promise<{ ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
