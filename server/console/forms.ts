import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { problemOf } from '../infra/http/error-handler';
import type { MessageKey, Translate } from './i18n';

export interface FieldError {
  /** The form field the error is about (its `name`, also the input's id); none for the form as a whole. */
  field?: string;
  message: string;
}

/** What a form shows again after a refusal: what was typed, and what went wrong in plain words. */
export interface FormState {
  values: Record<string, string>;
  errors: FieldError[];
}

/** Never shown back: secrets are typed again. */
const NOT_ECHOED = new Set(['password', 'currentPassword', 'newPassword', 'confirmPassword', 'serviceAccountKey', '_csrf']);

/** The submitted values as strings, ready to fill the form again. */
export function submitted(body: unknown): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries((body ?? {}) as Record<string, unknown>)) {
    if (NOT_ECHOED.has(key)) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') values[key] = String(value);
  }
  return values;
}

function fieldOf(v: FastifySchemaValidationError): string | undefined {
  const missing = (v.params as { missingProperty?: string }).missingProperty;
  if (missing) return missing;
  return v.instancePath.split('/')[1] || undefined;
}

function messageOf(v: FastifySchemaValidationError, label: string, t: Translate): string {
  const p = v.params as { limit?: number; format?: string };
  switch (v.keyword) {
    case 'required':
      return t('form.required', { field: label });
    case 'minLength':
      return p.limit === 1 ? t('form.required', { field: label }) : t('form.tooShort', { field: label, min: p.limit });
    case 'maxLength':
      return t('form.tooLong', { field: label, max: p.limit });
    case 'minimum':
    case 'maximum':
    case 'type':
      return t('form.number', { field: label });
    case 'format':
      return p.format === 'email' ? t('form.email', { field: label }) : p.format?.startsWith('date') ? t('form.date', { field: label }) : t('form.invalid', { field: label });
    default:
      return t('form.invalid', { field: label });
  }
}

/**
 * The refusal of a form: schema errors are named field by field with the field's label; an
 * error from a service is worded from its stable code (`errors.<code>` in the catalogues).
 */
export function refusedForm(
  body: unknown,
  error: FastifyError | Error,
  labels: Record<string, MessageKey>,
  t: Translate,
  fieldOfCode: Record<string, string> = {},
  messageOfCode: Record<string, MessageKey> = {},
): FormState {
  const values = submitted(body);
  const validation = (error as FastifyError).validation;
  if (validation) {
    const seen = new Set<string>();
    const errors: FieldError[] = [];
    for (const v of validation) {
      const field = fieldOf(v);
      if (!field || seen.has(field) || !(field in labels)) continue;
      seen.add(field);
      errors.push({ field, message: messageOf(v, t(labels[field]!), t) });
    }
    return { values, errors: errors.length ? errors : [{ message: t('errors.validation_failed') }] };
  }
  const { code } = problemOf(error as FastifyError);
  const own = messageOfCode[code];
  return { values, errors: [{ field: fieldOfCode[code], message: own ? t(own) : errorMessage(code, t) }] };
}

export function errorMessage(code: string, t: Translate): string {
  const key = `errors.${code}` as MessageKey;
  const text = t(key);
  return text === key ? t('errors.generic') : text;
}

export interface FormHandling {
  /** Field name → its label, to name the field in an error message. */
  labels: Record<string, MessageKey>;
  /** Error code → the field it is about (e.g. `email_taken` → `email`). */
  fieldOfCode?: Record<string, string>;
  /** Error code → this form's own wording, where the shared one speaks of something else. */
  messageOfCode?: Record<string, MessageKey>;
  /** Renders the page with the form filled in again and its errors. */
  render(form: FormState): Promise<string>;
  /**
   * Does the work; returns where to go next (a 303 redirect, so a reload does not submit twice),
   * or a page to show at once when it holds something that must not be stored (a secret shown once).
   */
  submit(): Promise<string | { page: string }>;
}

/**
 * The schema's refusal of the submitted fields, if any. `attachValidation` attaches every refusal;
 * only the body's is the form's to show: a malformed path or query is thrown to the error handler.
 */
export function bodyRefusal(request: FastifyRequest): FastifyRequest['validationError'] {
  if (request.validationError && request.validationError.validationContext !== 'body') throw request.validationError;
  return request.validationError;
}

/**
 * A form submission: a schema refusal (the route sets `attachValidation`) or a refusal from a
 * service shows the form again with what was typed; anything else is a server error.
 */
export async function handleForm(request: FastifyRequest, reply: FastifyReply, t: Translate, handling: FormHandling): Promise<unknown> {
  const refusal = bodyRefusal(request);
  if (refusal) return handling.render(refusedForm(request.body, refusal, handling.labels, t, handling.fieldOfCode, handling.messageOfCode));
  try {
    const next = await handling.submit();
    return typeof next === 'string' ? reply.redirect(next, 303) : next.page;
  } catch (error) {
    if (problemOf(error as FastifyError).status >= 500) throw error;
    return handling.render(refusedForm(request.body, error as Error, handling.labels, t, handling.fieldOfCode, handling.messageOfCode));
  }
}
