// Client side of the notify_server SSE stream: one-time tickets, resume positions and reconnects.

/** The part of the browser's EventSource that EventStream uses. */
export interface EventSourceLike {
  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void;
  close(): void;
  onerror: ((event: Event) => void) | null;
}

export type StreamStatus = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'stopped';

/** Data of the `ready` frame that starts every stream. */
export interface ReadyFrame {
  last_event_id: number;
  online: number[];
}

export interface EventStreamHandlers {
  /**
   * Called when the stream opens. `resumed` is true when it continued from a position, and the
   * server replays the missed events next. It is false for a first connection, after which the
   * caller loads its REST state.
   */
  onReady(frame: ReadyFrame, resumed: boolean): void;
  /** A named event; `id` is set for stored events and null for typing, presence and resync. */
  onEvent(name: string, data: unknown, id: number | null): void;
  onStatus?(status: StreamStatus): void;
}

export interface EventStreamOptions extends EventStreamHandlers {
  /** Path of the stream on the page's origin. */
  url?: string;
  /** Returns a fresh one-time ticket (`POST /api/events/ticket`). */
  fetchTicket(): Promise<string>;
  createEventSource?(url: string): EventSourceLike;
  /** First reconnect delay; each failure doubles it up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
  setTimer?: (callback: () => void, delayMs: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

/** Every `event:` name that notify_server sends. */
export const STREAM_EVENT_NAMES = [
  'message.created',
  'message.updated',
  'message.deleted',
  'chat.created',
  'chat.updated',
  'chat.archived',
  'chat.member_joined',
  'chat.member_left',
  'chat.member_role_changed',
  'chat.read',
  'typing',
  'presence',
  'resync',
] as const;

/**
 * Keeps one SSE connection open and resumes it after every drop.
 *
 * A ticket is valid once, and the browser's own retry would present the spent ticket again. So on
 * any error the EventSource is closed, and a new one opens with a new ticket and `?last_event_id=`
 * set to the last stored event received. The server then replays every event after that position
 * exactly once, as notify_server documents. Frames without an `id:` never move the position.
 */
export class EventStream {
  private readonly options: EventStreamOptions;
  private source: EventSourceLike | null = null;
  private timer: unknown = null;
  private failures = 0;
  private running = false;
  /** Increases with each connection attempt, so callbacks of an abandoned attempt are ignored. */
  private attempt = 0;
  private position: number | null = null;
  private currentStatus: StreamStatus = 'idle';

  constructor(options: EventStreamOptions) {
    this.options = options;
  }

  /** Resume position: id of the last stored event received, or of the stream head at `ready`. */
  get lastEventId(): number | null {
    return this.position;
  }

  get status(): StreamStatus {
    return this.currentStatus;
  }

  start(): void {
    if (this.running) {
      return;
    }
    this.running = true;
    void this.connect();
  }

  stop(): void {
    this.running = false;
    this.attempt += 1;
    this.cancelTimer();
    this.source?.close();
    this.source = null;
    this.setStatus('stopped');
  }

  /** Reconnects at once when waiting for a retry, for example when the browser comes back online. */
  reconnectNow(): void {
    if (this.running && this.timer !== null) {
      this.cancelTimer();
      void this.connect();
    }
  }

  private async connect(): Promise<void> {
    const attempt = ++this.attempt;
    this.setStatus(this.position === null && this.failures === 0 ? 'connecting' : 'reconnecting');
    let ticket: string;
    try {
      ticket = await this.options.fetchTicket();
    } catch (error) {
      if (attempt === this.attempt && this.running) {
        console.warn('fechatter: fetching an event stream ticket failed', error);
        this.scheduleReconnect();
      }
      return;
    }
    if (attempt !== this.attempt || !this.running) {
      return;
    }

    const params = new URLSearchParams({ ticket });
    const resumed = this.position !== null;
    if (resumed) {
      params.set('last_event_id', String(this.position));
    }
    const url = `${this.options.url ?? '/events'}?${params.toString()}`;
    const create = this.options.createEventSource ?? ((target: string) => new EventSource(target));
    const source = create(url);
    this.source = source;

    source.addEventListener('ready', (event) => {
      if (attempt !== this.attempt) {
        return;
      }
      const frame = parseData(event.data) as ReadyFrame | null;
      if (!frame) {
        return;
      }
      this.failures = 0;
      if (this.position === null) {
        this.position = frame.last_event_id;
      }
      this.setStatus('open');
      this.options.onReady(frame, resumed);
    });
    for (const name of STREAM_EVENT_NAMES) {
      source.addEventListener(name, (event) => {
        if (attempt !== this.attempt) {
          return;
        }
        this.handleFrame(name, event);
      });
    }
    source.onerror = () => {
      if (attempt !== this.attempt) {
        return;
      }
      // Closing stops the browser's own retry, which would reuse the spent ticket. Moving to the
      // next attempt makes the listeners ignore anything this source still dispatches.
      source.close();
      this.source = null;
      this.attempt += 1;
      console.warn(`fechatter: event stream dropped; resuming after event ${this.position ?? 'none'}`);
      this.scheduleReconnect();
    };
  }

  private handleFrame(name: string, event: MessageEvent<string>): void {
    const data = parseData(event.data);
    let id: number | null = null;
    // Only stored events carry `id:`; ephemeral ones leave lastEventId empty or repeat the last id.
    if (name !== 'typing' && name !== 'presence' && name !== 'resync' && event.lastEventId) {
      const parsed = Number(event.lastEventId);
      if (Number.isSafeInteger(parsed)) {
        id = parsed;
        if (this.position === null || parsed > this.position) {
          this.position = parsed;
        }
      }
    }
    this.options.onEvent(name, data, id);
  }

  private scheduleReconnect(): void {
    if (!this.running) {
      return;
    }
    this.cancelTimer();
    this.setStatus('reconnecting');
    const initial = this.options.initialDelayMs ?? 1_000;
    const max = this.options.maxDelayMs ?? 15_000;
    const base = Math.min(max, initial * 2 ** this.failures);
    // Up to 30 % jitter, so many clients dropped at once do not return in one burst.
    const random = this.options.random ?? Math.random;
    const delay = Math.round(base * (1 + 0.3 * random()));
    this.failures += 1;
    const setTimer = this.options.setTimer ?? ((callback, ms) => setTimeout(callback, ms));
    this.timer = setTimer(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }

  private cancelTimer(): void {
    if (this.timer !== null) {
      const clearTimer =
        this.options.clearTimer ?? ((handle) => clearTimeout(handle as ReturnType<typeof setTimeout>));
      clearTimer(this.timer);
      this.timer = null;
    }
  }

  private setStatus(status: StreamStatus): void {
    if (this.currentStatus !== status) {
      this.currentStatus = status;
      this.options.onStatus?.(status);
    }
  }
}

function parseData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    console.warn('fechatter: ignoring an event stream frame whose data is not JSON');
    return null;
  }
}
