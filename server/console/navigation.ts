import { ROLE_PERMISSIONS, type Permission, type Principal } from '../modules/access/principal';
import type { MessageKey } from './i18n';

export const CONSOLE_PREFIX = '/console';

export interface NavItem {
  href: string;
  label: MessageKey;
  /** Shown to callers holding this permission on some scope; every signed-in person when absent. */
  permission?: Permission;
}

/** The main menu, in order. A new page that belongs in the menu adds one line here. */
export const NAV: readonly NavItem[] = [
  { href: `${CONSOLE_PREFIX}/dashboard`, label: 'nav.dashboard', permission: 'devices.read' },
  { href: `${CONSOLE_PREFIX}/schools`, label: 'nav.schools', permission: 'organisation.read' },
  { href: `${CONSOLE_PREFIX}/devices`, label: 'nav.devices', permission: 'devices.read' },
  { href: `${CONSOLE_PREFIX}/enrollment`, label: 'nav.enrollment', permission: 'enrollment.manage' },
  { href: `${CONSOLE_PREFIX}/profiles`, label: 'nav.profiles', permission: 'profiles.read' },
  { href: `${CONSOLE_PREFIX}/apps`, label: 'nav.apps', permission: 'apps.read' },
  { href: `${CONSOLE_PREFIX}/campaigns`, label: 'nav.campaigns', permission: 'campaigns.read' },
  { href: `${CONSOLE_PREFIX}/users`, label: 'nav.users', permission: 'users.manage' },
  { href: `${CONSOLE_PREFIX}/location`, label: 'nav.location', permission: 'devices.read' },
  { href: `${CONSOLE_PREFIX}/audit`, label: 'nav.audit', permission: 'audit.read' },
  { href: `${CONSOLE_PREFIX}/privacy`, label: 'nav.privacy', permission: 'audit.read' },
  { href: `${CONSOLE_PREFIX}/settings`, label: 'nav.settings', permission: 'organisation.manage' },
  { href: `${CONSOLE_PREFIX}/tokens`, label: 'nav.tokens' },
];

/** Every permission some grant of the caller carries (whatever its scope): enough to shape menus and buttons. */
export function permissionsOf(principal: Principal): ReadonlySet<Permission> {
  return new Set(principal.grants.flatMap((g) => ROLE_PERMISSIONS[g.role]));
}

export function navFor(principal: Principal, path: string) {
  const held = permissionsOf(principal);
  return NAV.filter((item) => !item.permission || held.has(item.permission)).map((item) => ({ ...item, current: path === item.href || path.startsWith(`${item.href}/`) || path.startsWith(`${item.href}?`) }));
}

/** Where a signed-in person lands: the first page of the menu they may open. */
export function homeOf(principal: Principal): string {
  return navFor(principal, '')[0]?.href ?? `${CONSOLE_PREFIX}/tokens`;
}
