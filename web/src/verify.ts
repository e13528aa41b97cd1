// The verify step of a new account (issue 20 point 13): "check your mail" after registering, and where the
// mailed link lands (GET /api/auth/verify answers with #/verified or #/verify-failed).
import { announce, h, show } from './dom.js';
import { ApiError, call, forgetAccess, session } from './http.js';

function resendButton(): HTMLElement | null {
  if (!session.email) return null;
  const resend = async () => {
    try {
      const r = await call<{ status: string }>('/api/auth/verify/resend', { method: 'POST', auth: true });
      announce(r.status === 'verified' ? 'Your address is already verified.' : 'We sent a new link.');
    } catch (err) {
      announce(err instanceof ApiError ? err.message : 'The link could not be sent; try again.');
    }
  };
  return h(
    'button',
    { type: 'button', class: 'secondary', onclick: () => void resend() },
    'Send the link again',
  );
}

export function checkMailView(main: HTMLElement, next: string): void {
  // `next` comes from the address bar: only a route of this page is followed (never a javascript: URL).
  const onward = next.startsWith('#/') ? next : '#/';
  show(
    main,
    'Check your mail',
    h(
      'p',
      {},
      `We sent a link to ${session.email ?? 'your address'}. Follow it to verify your address: `,
      'you can buy once it is verified.',
    ),
    resendButton(),
    h('p', {}, h('a', { href: onward }, 'Continue to the sales')),
  );
}

export function verifiedView(main: HTMLElement, ok: boolean): void {
  if (ok) {
    // The access token in memory still says "unverified": the next call refreshes for a verified one.
    forgetAccess();
    show(
      main,
      'Email verified',
      h('p', { role: 'status' }, 'Your address is verified. You can buy now.'),
      h('p', {}, h('a', { href: '#/' }, 'Go to the sales')),
    );
    return;
  }
  show(
    main,
    'This link did not work',
    h(
      'p',
      { role: 'alert' },
      'It may have expired (links work for 24 hours) or been changed. Ask for a new one.',
    ),
    resendButton() ?? h('p', {}, h('a', { href: '#/login' }, 'Log in to get a new link')),
  );
}
