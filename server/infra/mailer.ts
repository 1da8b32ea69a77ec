import { createTransport, type Transporter } from 'nodemailer';

export interface Mail {
  to: string[];
  subject: string;
  text: string;
}

export interface Mailer {
  /** False when no SMTP server is configured: nothing is sent. */
  readonly enabled: boolean;
  send(mail: Mail): Promise<void>;
  close(): void;
}

/** E-mail through the configured SMTP server; one pooled transport per process. */
export function createMailer(config: { SMTP_URL?: string; SMTP_FROM: string }): Mailer {
  if (!config.SMTP_URL) return { enabled: false, send: async () => undefined, close: () => undefined };
  const transport: Transporter = createTransport(config.SMTP_URL, { from: config.SMTP_FROM });
  return {
    enabled: true,
    async send(mail) {
      await transport.sendMail({ from: config.SMTP_FROM, to: mail.to, subject: mail.subject, text: mail.text });
    },
    close: () => transport.close(),
  };
}
