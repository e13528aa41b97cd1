// A sale's waiting room (docs/waiting-room.md), as the shopper meets it: join (with the proof of work when
// the room asks for it), then the place polled every 1.5 s — the pre-queue and its seed commitment before
// the start, "number N, about M minutes" and a moving bar after it — until the admission opens the buy
// step by itself, with the time left on it. Sold out, ended and expired end the wait at once.
import { challengeBox, type ChallengeBox } from './challenge.js';
import { announce, countdown, h } from './dom.js';
import { ApiError, call, serverNow, session, sleep } from './http.js';
import { fairnessLine, placeText, progressOf, type QueueStatus, type RoomSummary } from './room-text.js';

export type { QueueStatus, RoomSummary } from './room-text.js';

export interface RoomHooks {
  /** The room's state changed (admission, sold out…): the sale view redraws its buy step. */
  changed(state: QueueStatus['state'] | null): void;
  /** The status says this shopper's place bought an order (a reload after the purchase). */
  purchased(orderId: string): void;
}

export interface Room {
  el: HTMLElement;
  /** True while an admission holds: the buy step is open. */
  admitted(): boolean;
  /** The admission's purchase token; `fresh` after a refusal spent it: read again from the status. */
  token(fresh: boolean): Promise<string>;
  /** The order went through: the place is used, polling stops. */
  bought(): void;
  /** Redraws the clocks (called by the sale view's ticker). */
  tick(): void;
  stop(): void;
}

const POLL_MS = 1500;
/** A position is announced at most this often: a screen reader reading every step of a fast line is noise. */
const SAY_EVERY_MS = 15_000;
const FINAL = new Set(['purchased', 'expired', 'sold_out', 'ended']);

/**
 * The room of a sale, or null when it has none (404 NOT_FOUND: nothing else tells a page). A 429 (the
 * route's per-IP budget, which every shopper behind one address shares) is waited out a few times.
 */
export async function roomOf(activity: string): Promise<RoomSummary | null> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call<RoomSummary>(`/seckill/${encodeURIComponent(activity)}/queue`);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'NOT_FOUND') return null;
      if (!(err instanceof ApiError) || err.status !== 429 || attempt >= 4) throw err;
      await sleep((err.retryAfter ?? 1) * 1000);
    }
  }
}

/** How long to wait after a failed poll: the server's Retry-After, else a growing back-off. */
function retryWait(err: unknown, failures: number): number {
  if (err instanceof ApiError && err.retryAfter !== null) return err.retryAfter * 1000;
  return Math.min(10_000, POLL_MS * 2 ** failures);
}

export function waitingRoom(activity: string, first: RoomSummary, hooks: RoomHooks): Room {
  const base = `/seckill/${encodeURIComponent(activity)}/queue`;
  let summary = first;
  let st: QueueStatus | null = null;
  let startPosition: number | null = null;
  let said = { position: 0, at: 0 };
  let stopped = false;
  let running = false;
  let joining = false;
  let challenge: ChallengeBox | null = null;

  const line = h('p', { class: 'room-line', tabindex: -1 });
  const detail = h('p', {});
  const timer = h('p', { class: 'clock', role: 'timer', 'aria-live': 'off' });
  const bar = h('progress', { id: 'room-progress', max: 100, value: 0 });
  const barRow = h(
    'div',
    { class: 'room-bar' },
    h('label', { for: 'room-progress' }, 'Your way to the front'),
    bar,
  );
  const fairness = h('p', { class: 'fair' });
  const challengeSlot = h('div', {});
  const joinButton = h('button', { type: 'button', class: 'join' }, 'Join the waiting room');
  const el = h(
    'section',
    { class: 'room', 'aria-labelledby': 'room-h' },
    h('h2', { id: 'room-h' }, 'Waiting room'),
    line,
    detail,
    barRow,
    timer,
    challengeSlot,
    joinButton,
    fairness,
  );

  const admission = () => (st?.state === 'admitted' ? st.admission : undefined);

  function apply(s: QueueStatus): void {
    const before = st?.state ?? null;
    st = s;
    if (s.state === 'waiting' && s.position !== undefined) {
      startPosition ??= s.position;
      const now = Date.now();
      if (s.position !== said.position && (said.position === 0 || now - said.at >= SAY_EVERY_MS)) {
        said = { position: s.position, at: now };
        announce(`${placeText(s).line} ${placeText(s).detail}`);
      }
    }
    if (s.state === before) return;
    if (s.state === 'purchased' && s.orderId) hooks.purchased(s.orderId);
    if (s.state !== 'waiting') {
      const t = placeText(s, left());
      announce(`${t.line} ${t.detail}`, s.state === 'admitted' || s.state === 'sold_out');
    }
    hooks.changed(s.state);
  }

  const left = (): number => {
    const a = admission();
    return a ? Date.parse(a.expiresAt) - serverNow() : 0;
  };
  const polling = () => st !== null && !FINAL.has(st.state) && st.state !== 'admitted';
  // The seed is revealed at the first admission pass after the start; the summary is read until then.
  const needsSummary = () =>
    summary.state !== 'ended' &&
    (st === null
      ? summary.state !== 'sold_out'
      : !summary.seed && !FINAL.has(st.state) && serverNow() >= Date.parse(summary.startsAt));

  async function run(): Promise<void> {
    if (running) return;
    running = true;
    try {
      for (let i = 0, failures = 0; !stopped && (polling() || needsSummary()); i++) {
        let wait = POLL_MS;
        try {
          if (polling()) apply(await call<QueueStatus>(`${base}/me`, { auth: true }));
          if (needsSummary() && i % 2 === 0) summary = await call<RoomSummary>(base);
          failures = 0;
        } catch (err) {
          if (err instanceof ApiError && err.code === 'NOT_IN_QUEUE') st = null;
          wait = retryWait(err, ++failures);
        }
        render();
        await sleep(wait);
      }
    } finally {
      running = false;
    }
  }

  async function joinOnce(): Promise<QueueStatus> {
    for (let attempt = 0; ; attempt++) {
      const body = challenge ? { altcha: await challenge.solve() } : undefined;
      try {
        return await call<QueueStatus>(base, { method: 'POST', body, auth: true });
      } catch (err) {
        if (!(err instanceof ApiError) || attempt >= 4) throw err;
        if (err.code === 'CHALLENGE_FAILED') {
          // The room asks for proof of work (nothing says so before the first join): solve, then again.
          challenge ??= challengeBox(activity, false);
          challengeSlot.replaceChildren(challenge.el);
          announce('This waiting room first checks that you are not a bot…');
        } else if (err.status === 429 || err.status === 503) {
          await sleep((err.retryAfter ?? 1) * 1000);
        } else throw err;
      }
    }
  }

  async function join(): Promise<void> {
    joining = true;
    render();
    try {
      apply(await joinOnce());
      challengeSlot.replaceChildren();
      line.focus();
      void run();
    } catch (err) {
      if (err instanceof ApiError && (err.code === 'SOLD_OUT' || err.code === 'ENDED')) {
        summary = { ...summary, state: err.code === 'SOLD_OUT' ? 'sold_out' : 'ended' };
        hooks.changed(summary.state === 'sold_out' ? 'sold_out' : 'ended');
      }
      announce(err instanceof ApiError ? err.message : 'Joining failed; try again.', true);
      detail.textContent = err instanceof ApiError ? err.message : 'Joining failed; try again.';
    } finally {
      joining = false;
      render();
      // A disabled button loses the focus: give it back where a keyboard shopper can go on from.
      if (document.activeElement === document.body) (joinButton.hidden ? line : joinButton).focus();
    }
  }
  joinButton.addEventListener('click', () => void join());

  function render(): void {
    const now = serverNow();
    const opensAt = Date.parse(summary.opensAt);
    // The admission ends by the server's clock, not at the next poll (none runs while admitted).
    const held = admission();
    if (st && held && now >= Date.parse(held.expiresAt))
      apply({ ...st, state: 'expired', admission: undefined });
    const a = admission();
    const text = st ? placeText(st, left()) : null;
    if (text) {
      put(line, text.line);
      put(detail, text.detail);
    } else if (!joining)
      put(line, notJoinedLine(summary, now) + (session.email ? '' : ' Log in to join it.'));
    const canJoin = !st && session.email !== null && now >= opensAt && !FINAL.has(summary.state);
    joinButton.hidden = Boolean(st) || !session.email || FINAL.has(summary.state);
    joinButton.disabled = joining || !canJoin;
    put(joinButton, joining ? 'Joining…' : 'Join the waiting room');
    const progress = st ? progressOf(st, startPosition) : null;
    barRow.hidden = progress === null;
    bar.value = progress ?? 0;
    put(
      timer,
      a
        ? `Buy within ${countdown(left())}`
        : !st && now < opensAt
          ? `Opens in ${countdown(opensAt - now)}`
          : '',
    );
    // Redrawn only when it changes: a shopper may be selecting the seed or focusing its link.
    const fair = `${summary.commitment}|${summary.seed}|${st?.ticket}`;
    if (fairness.dataset.key !== fair) {
      fairness.dataset.key = fair;
      fairness.replaceChildren(...fairnessLine(summary, activity, st?.ticket));
    }
  }

  if (session.email) {
    void call<QueueStatus>(`${base}/me`, { auth: true })
      .then(apply, () => undefined)
      .finally(() => {
        render();
        void run();
      });
  } else void run();
  render();

  return {
    el,
    admitted: () => admission() !== undefined && left() > 0,
    async token(fresh) {
      const cached = admission()?.token;
      if (cached && !fresh) return cached;
      apply(await call<QueueStatus>(`${base}/me`, { auth: true }));
      const token = admission()?.token;
      if (token) return token;
      throw new ApiError(403, 'NOT_ADMITTED', 'Your turn to buy has ended.', {}, null);
    },
    bought() {
      if (st) st = { ...st, state: 'purchased', admission: undefined };
      render();
    },
    tick: render,
    stop() {
      stopped = true;
    },
  };
}

/** Writes only a change: the ticker calls render four times a second. */
function put(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

function notJoinedLine(s: RoomSummary, now: number): string {
  if (s.state === 'sold_out') return 'Sold out: the waiting room is closed.';
  if (s.state === 'ended') return 'The sale has ended.';
  if (now < Date.parse(s.opensAt)) return 'This sale has a waiting room. You can join it once it opens.';
  if (now < Date.parse(s.startsAt))
    return 'The waiting room is open. Everyone who joins before the start gets a fair random place.';
  return `The sale has started: join the line, ${s.waiting} waiting.`;
}
