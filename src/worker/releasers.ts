/**
 * Cleanups registered where each resource is acquired and run in reverse order. Release keeps going past failures
 * and reports them all together; running it twice does nothing the second time.
 */
export class Releasers {
  #list: Array<{ name: string; release: () => Promise<void> | void }> = [];
  #released = false;

  add(name: string, release: () => Promise<void> | void): void {
    this.#list.push({ name, release });
  }

  async releaseAll(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    const errors: unknown[] = [];
    for (const { name, release } of this.#list.reverse()) {
      try {
        await release();
      } catch (error) {
        errors.push(new Error(`releasing ${name} failed: ${(error as Error).message}`, { cause: error }));
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, "some resources could not be released");
  }
}
