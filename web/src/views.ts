// The list of sales, logging in and registering, and the shopper's orders.
import { pay, type Order } from './buy.js';
import { announce, countdown, h, money, show, when } from './dom.js';
import { ApiError, call, login, register, serverNow, session } from './http.js';

export interface Activity {
  name: string;
  product: { sku: string; name: string; originalPrice: string | null };
  price: string;
  maxPerUser: number;
  window: { start: string; end: string };
  paymentWindowSeconds: number;
  paused: boolean;
  status: 'upcoming' | 'live' | 'ended';
  stock: { total: number; remaining: number | null; sold: number };
}

const STATUS_LABEL = { live: 'Live now', upcoming: 'Upcoming', ended: 'Ended' } as const;

export function priceLine(a: Activity): HTMLElement {
  return h(
    'p',
    { class: 'price' },
    h('strong', {}, money(a.price)),
    a.product.originalPrice ? ' ' : null,
    a.product.originalPrice
      ? h('s', { 'aria-label': `was ${money(a.product.originalPrice)}` }, money(a.product.originalPrice))
      : null,
  );
}

export function stockLine(a: Activity): string {
  const left = a.stock.remaining ?? a.stock.total - a.stock.sold;
  return `${left} of ${a.stock.total} left`;
}

function card(a: Activity): HTMLElement {
  const soldOut = a.status === 'live' && a.stock.remaining === 0;
  const kind = a.paused ? 'paused' : soldOut ? 'sold-out' : a.status;
  const label = a.paused ? 'Paused' : soldOut ? 'Sold out' : STATUS_LABEL[a.status];
  const dates =
    a.status === 'ended'
      ? `Ended ${when(a.window.end)}`
      : a.status === 'live'
        ? `Ends ${when(a.window.end)}`
        : `Starts ${when(a.window.start)}`;
  return h(
    'li',
    { class: `card ${a.status}` },
    h('h3', {}, h('a', { href: `#/sale/${encodeURIComponent(a.name)}` }, a.product.name)),
    h('p', { class: `badge ${kind}` }, label),
    priceLine(a),
    h('p', {}, stockLine(a)),
    h('p', { class: 'muted' }, dates),
  );
}

export async function listView(main: HTMLElement): Promise<void> {
  show(main, 'Flash sales', h('p', { role: 'status' }, 'Loading…'));
  const page = await call<{ items: Activity[] }>('/api/activities?pageSize=100');
  const groups = (['live', 'upcoming', 'ended'] as const).map((status) => {
    const items = page.items.filter((a) => a.status === status);
    return h(
      'section',
      { 'aria-labelledby': `h-${status}` },
      h('h2', { id: `h-${status}` }, STATUS_LABEL[status]),
      items.length
        ? h('ul', { class: 'cards' }, ...items.map(card))
        : h('p', { class: 'muted' }, 'None right now.'),
    );
  });
  show(main, 'Flash sales', ...groups);
}

export function loginView(main: HTMLElement, next: string): void {
  const error = h('p', { class: 'error', role: 'alert' });
  const email = h('input', {
    id: 'email',
    name: 'email',
    type: 'email',
    autocomplete: 'username',
    required: true,
  });
  const password = h('input', {
    id: 'password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    minlength: 12,
    required: true,
    'aria-describedby': 'password-hint',
  });
  const submit = (kind: 'login' | 'register') => async (ev: Event) => {
    ev.preventDefault();
    if (!form.reportValidity()) return;
    error.textContent = '';
    try {
      await (kind === 'login' ? login : register)(email.value.trim(), password.value);
      announce('You are logged in.');
      // A new account verifies its address before it can buy: say so first.
      location.hash = kind === 'register' ? `#/check-mail?next=${encodeURIComponent(next)}` : next;
    } catch (err) {
      error.textContent = err instanceof ApiError ? err.message : 'Something went wrong; try again.';
    }
  };
  const form = h(
    'form',
    { class: 'stack', novalidate: true, onsubmit: submit('login') },
    h('label', { for: 'email' }, 'Email'),
    email,
    h('label', { for: 'password' }, 'Password'),
    password,
    h('p', { id: 'password-hint', class: 'muted' }, 'At least 12 characters.'),
    error,
    h(
      'div',
      { class: 'row' },
      h('button', { type: 'submit' }, 'Log in'),
      h('button', { type: 'button', class: 'secondary', onclick: submit('register') }, 'Create account'),
    ),
  );
  show(main, 'Log in or create an account', form);
}

export function orderRow(o: Order, refresh: () => void): HTMLElement {
  const left = Date.parse(o.paymentDeadline) - serverNow();
  const payable = o.status === 'pending_payment' && left > 0;
  const doPay = async () => {
    try {
      await pay(o.id);
      announce('Paid. Thank you!');
    } catch (err) {
      announce(err instanceof ApiError ? err.message : 'Payment failed.');
    }
    refresh();
  };
  return h(
    'tr',
    {},
    h('td', {}, h('a', { href: `#/sale/${encodeURIComponent(o.activity)}` }, o.activity)),
    h('td', {}, money(o.amount)),
    h('td', {}, o.status === 'pending_payment' && left <= 0 ? 'closed' : o.status.replace('_', ' ')),
    h('td', {}, payable ? `${countdown(left)} left` : '—'),
    h('td', {}, payable ? h('button', { type: 'button', onclick: doPay }, 'Pay now') : null),
  );
}

export async function ordersView(main: HTMLElement): Promise<void> {
  if (!session.email) return void (location.hash = '#/login?next=%23%2Forders');
  const page = await call<{ items: Order[] }>('/api/orders?pageSize=100', { auth: true });
  const refresh = () => void ordersView(main);
  const table = h(
    'table',
    {},
    h('caption', { class: 'visually-hidden' }, 'Your orders'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Sale', 'Amount', 'Status', 'Pay within', 'Action'].map((t) => h('th', { scope: 'col' }, t)),
      ),
    ),
    h('tbody', {}, ...page.items.map((o) => orderRow(o, refresh))),
  );
  show(
    main,
    'My orders',
    page.items.length ? h('div', { class: 'scroll' }, table) : h('p', {}, 'No orders yet.'),
  );
}
