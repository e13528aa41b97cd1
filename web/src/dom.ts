// A few lines instead of a framework: elements built from data (textContent only, never HTML strings).

type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else if (v !== false && v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
  for (const c of children) if (c) el.append(c);
  return el;
}

/**
 * Screen readers hear status changes through one polite live region; `urgent` ones (a waiting room's
 * admission, sold out) through the assertive one, which interrupts.
 */
export function announce(message: string, urgent = false): void {
  const region = document.getElementById(urgent ? 'alert' : 'announce');
  if (region) region.textContent = message;
}

export function money(amount: string | null | undefined): string {
  return amount ? `¥${amount}` : '';
}

/** "1 d 02:03:04" or "02:03" style countdown text; never negative. */
export function countdown(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  const clock = hh || d ? `${pad(hh)}:${pad(mm)}:${pad(ss)}` : `${pad(mm)}:${pad(ss)}`;
  return d ? `${d} d ${clock}` : clock;
}

export function when(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Replaces the main region's content and moves focus to its heading (keyboard and screen readers). */
export function show(main: HTMLElement, title: string, ...content: Child[]): HTMLHeadingElement {
  const heading = h('h1', { tabindex: -1 }, title);
  main.replaceChildren(heading, ...content.filter((c): c is Node | string => Boolean(c)));
  document.title = `${title} · Stampede shop`;
  heading.focus({ preventScroll: false });
  return heading;
}
