// One sale's page: the countdown by the server's clock, the buy button enabled exactly at the start (or, for
// a sale with a waiting room, at the shopper's admission), the challenge (pow sales, solved while the
// shopper waits), the purchase, then paying before the deadline.
import { pay, purchase, settledOrder, type Order, type TokenNeeds } from './buy.js';
import { challengeBox } from './challenge.js';
import { announce, countdown, h, show, when } from './dom.js';
import { ApiError, call, serverNow, session, syncClock } from './http.js';
import { roomOf, waitingRoom, type Room } from './room.js';
import { priceLine, stockLine, type Activity } from './views.js';

type Stock = { remaining: number | null; status: string };
type Held = { orderId: string; order?: Order };

function state(a: Activity, stock: Stock, now: number): string {
  if (a.paused || stock.status === 'paused') return 'paused';
  if (now >= Date.parse(a.window.end)) return 'ended';
  if (now < Date.parse(a.window.start)) return 'upcoming';
  if (stock.remaining !== null && stock.remaining <= 0) return 'sold_out';
  return 'live';
}

const STATE_TEXT: Record<string, string> = {
  paused: 'This sale is paused.',
  ended: 'This sale has ended.',
  sold_out: 'Sold out.',
  live: 'Live now.',
};

/** Renders the sale and keeps it current; returns what stops its timers when the shopper leaves. */
export async function saleView(main: HTMLElement, name: string): Promise<() => void> {
  const base = `/seckill/${encodeURIComponent(name)}`;
  const activityUrl = `/api/activities/${encodeURIComponent(name)}`;
  const [first, needs, roomSummary] = await Promise.all([
    call<Activity>(activityUrl),
    call<TokenNeeds>(`${base}/token`),
    roomOf(name),
    syncClock(name),
  ]);
  // `let`: an openWhen capacityReady sale's start moves (docs/open-when.md), see reread below.
  let a = first;
  let stock: Stock = { remaining: a.stock.remaining, status: a.status };
  let held: Held | null = null;
  let busy = false;
  let closedReason = '';
  if (session.email) {
    held = await call<{ orderId: string }>(`${base}/result`, { auth: true }).catch(() => null);
  }
  const clock = h('p', { class: 'clock', role: 'timer', 'aria-live': 'off' });
  const status = h('p', { class: 'status', role: 'status' });
  const stockText = h('p', {}, stockLine(a));
  const button = h('button', { type: 'button', class: 'buy', disabled: true }, 'Buy now');
  const orderBox = h('section', { class: 'order', 'aria-labelledby': 'order-h' });
  // The widget (and its proof of work) only while this shopper may still buy: not once sold out or ended.
  let challenge: ReturnType<typeof challengeBox> | null = null;
  const challengeSlot = h('div', {});
  const login = session.email
    ? null
    : h('p', {}, h('a', { href: `#/login?next=${encodeURIComponent(location.hash)}` }, 'Log in'), ' to buy.');

  const refreshStock = () =>
    call<Stock>(`${base}/stock`).then(
      (x) => (stock = x),
      () => undefined,
    );
  const say = (m: string) => {
    status.textContent = m;
    announce(m);
  };
  let payButton: HTMLElement | undefined;
  const renderOrder = () => {
    if (!held) return orderBox.replaceChildren();
    const o = held.order;
    const left = o ? Date.parse(o.paymentDeadline) - serverNow() : 0;
    const open = o?.status === 'pending_payment' && left > 0;
    const lapsed = o?.status === 'closed' || (o?.status === 'pending_payment' && !open);
    if (lapsed && status.dataset.state !== 'closed') {
      status.dataset.state = 'closed';
      say('This order is closed: it was not paid in time.');
    }
    // One button for the life of the order: the box is redrawn every tick, and a new button each time
    // took the keyboard focus away between a shopper's Tab and Enter.
    payButton ??= h('button', { type: 'button', class: 'pay', onclick: () => void doPay() }, 'Pay now');
    const focused = document.activeElement === payButton;
    const payBtn = open ? payButton : null;
    const label = !o
      ? 'being confirmed…'
      : o.status === 'pending_payment' && left <= 0
        ? 'closed'
        : o.status.replace('_', ' ');
    const parts = [
      h('h2', { id: 'order-h' }, 'Your order'),
      h('p', {}, `Order ${held.orderId.slice(0, 8)}… is ${label}.`),
      open ? h('p', { class: 'deadline' }, `Pay within ${countdown(left)}`) : null,
      !open && o?.status === 'pending_payment'
        ? h('p', {}, closedReason || 'The payment window has closed.')
        : null,
      payBtn,
    ];
    orderBox.replaceChildren(...parts.filter((p): p is NonNullable<typeof p> => p !== null));
    if (focused && payBtn) payBtn.focus();
  };
  const doPay = async () => {
    if (!held?.order) return;
    try {
      await pay(held.orderId);
      held.order = { ...held.order, status: 'paid' };
      say('Paid. Thank you!');
    } catch (err) {
      if (err instanceof ApiError && err.code === 'ORDER_CLOSED') {
        held.order = { ...held.order, status: 'closed' };
        closedReason = 'The payment window closed before the payment.';
      }
      say(err instanceof ApiError ? err.message : 'Payment failed; try again.');
    }
    renderOrder();
  };
  const follow = async (orderId: string) => {
    held = { orderId };
    renderOrder();
    held.order = await settledOrder(name, orderId);
    void refreshStock();
    say(
      held.order.status === 'pending_payment'
        ? 'Order confirmed. Pay before the deadline.'
        : `Order ${held.order.status}.`,
    );
    renderOrder();
  };
  // A sale with a waiting room opens its buy step at the shopper's admission, and only then.
  const room: Room | null = roomSummary
    ? waitingRoom(name, roomSummary, {
        changed(s) {
          if (s === 'sold_out') stock = { ...stock, remaining: 0 };
          tick();
          if (s === 'admitted' && !button.disabled) button.focus();
        },
        purchased(orderId) {
          if (!held) void follow(orderId).catch(() => undefined);
        },
      })
    : null;
  const buy = async () => {
    busy = true;
    tick();
    try {
      const id = await purchase(name, needs, {
        say,
        solve: () => challenge?.solve() ?? Promise.resolve(''),
        token: room ? (fresh) => room.token(fresh) : undefined,
      });
      room?.bought();
      say('Order placed! Waiting for confirmation…');
      void call<Stock>(`${base}/stock`).then(
        (x) => (stock = x),
        () => undefined,
      );
      await follow(id);
    } catch (err) {
      if (
        err instanceof ApiError &&
        err.code === 'ALREADY_PURCHASED' &&
        typeof err.body.orderId === 'string'
      ) {
        await follow(err.body.orderId);
      } else {
        if (err instanceof ApiError && err.code === 'SOLD_OUT') stock = { ...stock, remaining: 0 };
        if (err instanceof ApiError && err.code === 'NOT_STARTED') void reread();
        say(err instanceof ApiError ? err.message : 'Something went wrong; try again.');
      }
    } finally {
      busy = false;
      tick();
    }
  };
  button.addEventListener('click', () => void buy());

  function tick(): void {
    const now = serverNow();
    const s = state(a, stock, now);
    const start = Date.parse(a.window.start);
    clock.textContent =
      s === 'upcoming'
        ? `Starts in ${countdown(start - now)}`
        : s === 'live'
          ? `Ends in ${countdown(Date.parse(a.window.end) - now)}`
          : '';
    if (!busy && !held && s !== 'upcoming' && status.dataset.state !== s) {
      status.dataset.state = s;
      say(STATE_TEXT[s] ?? '');
    }
    const open = !held && (s === 'live' || s === 'upcoming');
    if (open && !challenge && needs.challenge === 'pow' && session.email) {
      challenge = challengeBox(name);
      challengeSlot.replaceChildren(challenge.el);
    }
    challengeSlot.hidden = !open && !busy;
    const shut = room !== null && !room.admitted();
    button.disabled = busy || Boolean(held) || !session.email || s !== 'live' || shut;
    room?.tick();
    button.textContent = held ? 'Purchased' : s === 'sold_out' ? 'Sold out' : 'Buy now';
    stockText.textContent = stockLine({ ...a, stock: { ...a.stock, remaining: stock.remaining } });
    if (held?.order) renderOrder();
  }
  // Enabled exactly at the start by the server's clock, not at the next tick.
  let startTimer: ReturnType<typeof setTimeout> | undefined;
  const armStart = () => {
    clearTimeout(startTimer);
    const untilStart = Date.parse(a.window.start) - serverNow();
    startTimer = untilStart > 0 ? setTimeout(tick, untilStart) : undefined;
  };
  armStart();
  const windowText = () =>
    `${when(a.window.start)} – ${when(a.window.end)} · at most ${a.maxPerUser} per shopper`;
  const windowLine = h('p', { class: 'muted' }, windowText());
  // The operator may hold an opening until capacity is ready, or open a held one early (docs/open-when.md):
  // while upcoming (and on a NOT_STARTED answer) the activity is read again, so the countdown follows.
  const reread = () =>
    call<Activity>(activityUrl).then(
      (x) => {
        if (x.window.start === a.window.start) return;
        a = x;
        windowLine.textContent = windowText();
        armStart();
        tick();
      },
      () => undefined,
    );
  const ticker = setInterval(tick, 250);
  const poller = setInterval(() => void refreshStock(), 2000);
  const rereader = setInterval(() => {
    if (state(a, stock, serverNow()) === 'upcoming') void reread();
  }, 10_000);

  show(
    main,
    a.product.name,
    priceLine(a),
    stockText,
    windowLine,
    clock,
    status,
    room?.el,
    challengeSlot,
    login,
    button,
    orderBox,
  );
  tick();
  if (held) void follow(held.orderId).catch(() => undefined);
  return () => {
    clearTimeout(startTimer);
    clearInterval(ticker);
    clearInterval(poller);
    clearInterval(rereader);
    room?.stop();
  };
}
