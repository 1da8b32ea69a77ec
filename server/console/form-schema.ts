import { Type, type TProperties } from '@sinclair/typebox';

/** The body of an HTML form: its fields, plus the CSRF token every console form carries. */
export function FormBody<T extends TProperties>(fields: T) {
  return Type.Object({ ...fields, _csrf: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false });
}

/** A checkbox: present ("on") when ticked, absent otherwise. */
export const Checkbox = Type.Optional(Type.Literal('on'));

/** A local path inside the console, safe to redirect to after sign-in or a language switch. */
export function safeConsolePath(value: unknown): string | null {
  return typeof value === 'string' && /^\/console(\/(?![/\\])[^\s]*)?$/.test(value) ? value : null;
}
