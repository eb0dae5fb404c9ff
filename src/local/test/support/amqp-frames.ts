/**
 * What one rhea connection receives on the wire, frame by frame. rhea hands every decoded frame to the connection's
 * `on_<performative>` method; this wraps those methods on the one connection instance (rhea itself is untouched), so
 * a wire test can see the flows, transfers and dispositions the peer sent, in order, before rhea acts on them.
 */
import type { Connection } from "rhea";

export type Performative = "flow" | "transfer" | "disposition";

export interface RecordedFrame {
  readonly performative: Performative;
  /** The frame's fields as rhea decoded them (flow: delivery_count, link_credit, drain …; disposition: first, last, state …). */
  readonly fields: Record<string, unknown>;
}

interface FrameHandlers {
  [handler: string]: (frame: { performative: Record<string, unknown> }) => void;
}

/** Starts recording; call it before the connection reads its first frame (right after connect or on accept). */
export function recordIncomingFrames(connection: Connection, performatives: Performative[]): RecordedFrame[] {
  const frames: RecordedFrame[] = [];
  const handlers = connection as unknown as FrameHandlers;
  for (const performative of performatives) {
    const handle = handlers[`on_${performative}`]!;
    handlers[`on_${performative}`] = function (this: unknown, frame) {
      frames.push({ performative, fields: frame.performative });
      handle.call(this, frame);
    };
  }
  return frames;
}
