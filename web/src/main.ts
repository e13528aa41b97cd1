// The storefront: hash routes, so the API serves one index.html and every view is a link.
import { h, show } from './dom.js';
import { ApiError, logout, session } from './http.js';
import { saleView } from './sale.js';
import { checkMailView, verifiedView } from './verify.js';
import { listView, loginView, ordersView } from './views.js';

const main = document.getElementById('main') as HTMLElement;
let leave: (() => void) | null = null;

function renderAccount(): void {
  const slot = document.getElementById('account');
  if (!slot) return;
  const email = session.email;
  slot.replaceChildren(
    email
      ? h('button', { type: 'button', class: 'link', onclick: () => logout() }, `Log out ${email}`)
      : h('a', { href: '#/login' }, 'Log in'),
  );
}

async function route(): Promise<void> {
  leave?.();
  leave = null;
  const [path = '', query = ''] = location.hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean);
  try {
    if (parts[0] === 'sale' && parts[1]) leave = await saleView(main, decodeURIComponent(parts[1]));
    else if (parts[0] === 'orders') await ordersView(main);
    else if (parts[0] === 'login') loginView(main, new URLSearchParams(query).get('next') ?? '#/');
    else if (parts[0] === 'check-mail') checkMailView(main, new URLSearchParams(query).get('next') ?? '#/');
    else if (parts[0] === 'verified' || parts[0] === 'verify-failed')
      verifiedView(main, parts[0] === 'verified');
    else await listView(main);
  } catch (err) {
    const message = err instanceof ApiError ? err.message : 'The shop could not be reached; try again.';
    show(
      main,
      'Something went wrong',
      h('p', { role: 'alert' }, message),
      h('p', {}, h('a', { href: '#/' }, 'Back to the sales')),
    );
  }
}

session.onChange(() => {
  renderAccount();
  if (!location.hash.startsWith('#/login')) void route();
});
window.addEventListener('hashchange', () => void route());
renderAccount();
void route();
