/** A sleep that an event in the same process can cut short. */
export class WakeSignal {
  private pending?: () => void;
  private woken = false;

  wake(): void {
    this.woken = true;
    const resolve = this.pending;
    this.pending = undefined;
    resolve?.();
  }

  sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const pending = done;
      this.pending = pending;
      function done() {
        clearTimeout(timer);
        resolve();
      }
    }).then(() => {
      this.woken = false;
    });
  }
}
