// A small incremental parser for Server-Sent Events (the `text/event-stream` format that
// OpenAI-compatible servers stream completions in). Feed it decoded text as it arrives, in
// chunks cut anywhere (mid-line, mid-CRLF); it returns each event once its blank line is seen.

export interface SseEvent {
  /** The `event:` field; undefined for the default "message" event. */
  event?: string;
  /** The `data:` lines of the event, joined with "\n". */
  data: string;
}

export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event: string | undefined;
  private hasData = false;

  /** Adds decoded text; returns the events completed by it. */
  feed(text: string): SseEvent[] {
    this.buffer += text;
    return this.drain(false);
  }

  /** The stream ended: returns an event left without its closing blank line, if any. */
  end(): SseEvent[] {
    const events = this.drain(true);
    if (this.buffer.length > 0) this.line(this.buffer, events);
    this.buffer = "";
    this.dispatch(events);
    return events;
  }

  private drain(final: boolean): SseEvent[] {
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const ch = this.buffer.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      // A CR at the very end may be the first half of a CRLF still in flight.
      if (ch === 13 && i === this.buffer.length - 1 && !final) break;
      this.line(this.buffer.slice(start, i), events);
      if (ch === 13 && this.buffer.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  private line(line: string, events: SseEvent[]): void {
    if (line === "") return this.dispatch(events);
    if (line.startsWith(":")) return; // comment / keep-alive
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") {
      this.data.push(value);
      this.hasData = true;
    } else if (field === "event") {
      this.event = value;
    }
    // id, retry and unknown fields mean nothing to a completion stream.
  }

  private dispatch(events: SseEvent[]): void {
    if (this.hasData) events.push(this.event === undefined ? { data: this.data.join("\n") } : { event: this.event, data: this.data.join("\n") });
    this.data = [];
    this.event = undefined;
    this.hasData = false;
  }
}
