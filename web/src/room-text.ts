// What the waiting room says to the shopper, from the room's answers (docs/waiting-room.md): pure text,
// so the same words appear on screen and in the live region.
import { h } from './dom.js';

/** `GET /seckill/:activity/queue`. */
export interface RoomSummary {
  activity: string;
  state: 'closed' | 'pre-queue' | 'open' | 'sold_out' | 'ended';
  opensAt: string;
  startsAt: string;
  preQueue: number;
  waiting: number;
  active: number;
  admitted: number;
  noShows: number;
  admitRate: number;
  commitment: string | null;
  seed?: string;
}

/** `GET /seckill/:activity/queue/me` and the join's answer. */
export interface QueueStatus {
  activity: string;
  ticket: string;
  state: 'pre-queue' | 'waiting' | 'admitted' | 'purchased' | 'expired' | 'sold_out' | 'ended';
  position?: number;
  ahead?: number;
  etaSeconds?: number;
  opensAt: string;
  startsAt: string;
  admission?: { expiresAt: string; token?: string };
  orderId?: string;
}

/** "less than a minute", "about 3 minutes": a wait is an estimate, never a countdown. */
export function about(seconds: number): string {
  if (seconds < 60) return 'less than a minute';
  const m = Math.ceil(seconds / 60);
  return m === 1 ? 'about 1 minute' : `about ${m} minutes`;
}

function waitText(s: QueueStatus): string {
  const ahead = s.ahead ?? Math.max(0, (s.position ?? 1) - 1);
  if (ahead === 0) return 'You are next.';
  const who = ahead === 1 ? '1 shopper is' : `${ahead} shoppers are`;
  return s.etaSeconds === undefined ? `${who} ahead of you.` : `${who} ahead of you: ${about(s.etaSeconds)}.`;
}

/** The headline and the line under it for a shopper's place; `leftMs` is what the admission has left. */
export function placeText(s: QueueStatus, leftMs = 0): { line: string; detail: string } {
  switch (s.state) {
    case 'pre-queue':
      return {
        line: 'You are in the pre-queue.',
        detail:
          'At the start everyone in the pre-queue gets a random place, drawn from a seed fixed in advance. ' +
          'Your place is kept if you leave this page.',
      };
    case 'waiting':
      return { line: `You are number ${s.position ?? '…'} in line.`, detail: waitText(s) };
    case 'admitted':
      return {
        line: 'It is your turn!',
        detail: `The Buy now button is open: you have ${about(leftMs / 1000)} to buy.`,
      };
    case 'purchased':
      return { line: 'You are through: your order is below.', detail: '' };
    case 'expired':
      return {
        line: 'Your turn ran out.',
        detail: 'Your admission expired before a purchase; its slot goes to the next shopper in line.',
      };
    case 'sold_out':
      return { line: 'Sold out.', detail: 'Every unit is taken: nobody else will be let in.' };
    case 'ended':
      return { line: 'The sale has ended.', detail: '' };
  }
}

/** Percent of the way to the front since the first position this page saw; null when there is no line. */
export function progressOf(s: QueueStatus, startPosition: number | null): number | null {
  if (s.state === 'admitted' || s.state === 'purchased') return 100;
  if (s.state !== 'waiting' || s.position === undefined || !startPosition) return null;
  return Math.max(0, Math.round((100 * (startPosition - s.position)) / startPosition));
}

/** The seed's commitment before the start, the seed after it: anyone can recompute every place. */
export function fairnessLine(s: RoomSummary, activity: string, ticket?: string): (Node | string)[] {
  // No pre-queue was drawn (it opened at the start, or nobody came early): nothing to check.
  if (!s.commitment || (s.seed && s.preQueue === 0)) return [];
  const yours = ticket ? [' Your ticket: ', h('code', { class: 'hash' }, ticket), '.'] : [];
  if (!s.seed) {
    return [
      'Fair draw: the pre-queue is shuffled at the start with a secret seed whose SHA-256 is ',
      h('code', { class: 'hash' }, s.commitment),
      '.',
      ...yours,
    ];
  }
  return [
    'Fair draw: the seed was ',
    h('code', { class: 'hash' }, s.seed),
    ', whose SHA-256 is the commitment published before the start, ',
    h('code', { class: 'hash' }, s.commitment),
    '.',
    ...yours,
    ' ',
    h('a', { href: `/seckill/${encodeURIComponent(activity)}/queue/draw` }, 'Check every place'),
  ];
}
