// The ALTCHA widget of a `pow` sale: the proof of work for a purchase token (sale.ts) or for a place in the
// waiting room (room.ts). Loaded only when a sale asks for it.
import { h } from './dom.js';
import { authedFetch } from './http.js';

interface AltchaWidget extends HTMLElement {
  configure(c: Record<string, unknown>): Promise<void>;
  reset(): void;
  verify(): Promise<unknown>;
}

export interface ChallengeBox {
  el: HTMLElement;
  /** The widget's payload: the one solved ahead if there is one, else a fresh solution. */
  solve(): Promise<string>;
}

/** `auto`: solve as soon as the widget loads (a purchase token's work, done while the shopper waits). */
export function challengeBox(activity: string, auto = true): ChallengeBox {
  const el = h(
    'div',
    { class: 'challenge' },
    h('p', { class: 'muted' }, 'This sale checks that you are not a bot.'),
  );
  let payload: string | null = null;
  let waiting: ((p: string) => void) | null = null;
  const widget = document.createElement('altcha-widget') as AltchaWidget;
  widget.addEventListener('verified', (ev) => {
    const p = (ev as CustomEvent<{ payload: string }>).detail.payload;
    if (waiting) {
      waiting(p);
      waiting = null;
    } else payload = p;
  });
  el.append(widget);
  const ready = import('altcha').then(() =>
    widget.configure({
      challenge: `/seckill/${encodeURIComponent(activity)}/challenge`,
      fetch: authedFetch,
      auto: auto ? 'onload' : 'off',
    }),
  );
  const solve = (): Promise<string> => {
    if (payload) {
      const p = payload;
      payload = null;
      return Promise.resolve(p);
    }
    return new Promise((resolve) => {
      waiting = resolve;
      void ready.then(() => {
        widget.reset();
        void widget.verify();
      });
    });
  };
  return { el, solve };
}
