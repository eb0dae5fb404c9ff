/** A one-line progress bar on a terminal stream, redrawn at most ten times a second; a no-op elsewhere. */
export interface Progress {
  update(done: number): void;
  finish(): void;
}

export function progressBar(
  stream: NodeJS.WriteStream,
  total: number,
  options: { label?: string; width?: number; enabled?: boolean } = {},
): Progress {
  const enabled = options.enabled ?? stream.isTTY === true;
  if (!enabled || total <= 0) return { update: () => undefined, finish: () => undefined };
  const width = options.width ?? 30;
  const started = Date.now();
  let lastDraw = 0;
  let last = 0;
  const draw = (done: number) => {
    const fraction = Math.min(1, done / total);
    const filled = Math.round(fraction * width);
    const seconds = (Date.now() - started) / 1000;
    const rate = seconds > 0 ? Math.round(done / seconds) : 0;
    stream.write(
      `\r${options.label ? `${options.label} ` : ""}[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} ${Math.round(fraction * 100)}% ${rate}/s`,
    );
  };
  return {
    update(done) {
      last = done;
      const now = Date.now();
      if (now - lastDraw >= 100) {
        lastDraw = now;
        draw(done);
      }
    },
    finish() {
      draw(last);
      stream.write("\n");
    },
  };
}
