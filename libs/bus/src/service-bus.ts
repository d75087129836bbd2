import type { BusSubscription, EventBus, OutgoingMessage, PublishResult, SubscribeOptions } from './event-bus';

/**
 * One service's view of a bus that may be shared (standalone mode): closing it stops
 * the subscriptions this service made, and closes the underlying bus only if the
 * service owns it. Without this, a service stopping inside a shared process would
 * leave its consumers running against its closed database.
 */
export class ServiceBus implements EventBus {
  private readonly subscriptions = new Set<BusSubscription>();

  constructor(
    private readonly inner: EventBus,
    private readonly owned: boolean,
  ) {}

  get kind() {
    return this.inner.kind;
  }

  connect(): Promise<void> {
    return this.owned ? this.inner.connect() : Promise.resolve();
  }

  ensureStream(service: string): Promise<void> {
    return this.inner.ensureStream(service);
  }

  publish(message: OutgoingMessage): Promise<PublishResult> {
    return this.inner.publish(message);
  }

  async subscribe(options: SubscribeOptions): Promise<BusSubscription> {
    const subscription = await this.inner.subscribe(options);
    this.subscriptions.add(subscription);
    return {
      durable: subscription.durable,
      stop: async () => {
        this.subscriptions.delete(subscription);
        await subscription.stop();
      },
    };
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  async close(): Promise<void> {
    const subscriptions = [...this.subscriptions];
    this.subscriptions.clear();
    await Promise.all(subscriptions.map((subscription) => subscription.stop()));
    if (this.owned) await this.inner.close();
  }
}
