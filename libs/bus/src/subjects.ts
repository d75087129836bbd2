/**
 * Subject scheme: `<prefix>.<service>.<aggregate>.<EventType>`, for example
 * `co.pilotage.run.RunStarted`. Each service's events live in one stream named
 * `<PREFIX>_<SERVICE>`; dead letters go to `<prefix>.dlq.<durable>` in `<PREFIX>_DLQ`.
 */
const TOKEN = /^[A-Za-z0-9_-]+$/;

export function eventSubject(prefix: string, service: string, aggregate: string, eventType: string): string {
  for (const token of [prefix, service, aggregate, eventType]) {
    if (!TOKEN.test(token)) throw new Error(`"${token}" cannot be a subject token: use letters, digits, _ or -`);
  }
  return `${prefix}.${service}.${aggregate}.${eventType}`;
}

export function serviceStreamName(prefix: string, service: string): string {
  return `${prefix}_${service}`.toUpperCase();
}

export function serviceSubjects(prefix: string, service: string): string {
  return `${prefix}.${service}.>`;
}

export function deadLetterSubject(prefix: string, durable: string): string {
  return `${prefix}.dlq.${durable}`;
}

export function deadLetterStreamName(prefix: string): string {
  return `${prefix}_DLQ`.toUpperCase();
}

/** The service whose stream holds a subject: its second token. */
export function serviceOfSubject(subject: string): string {
  const service = subject.split('.')[1];
  if (!service || service === '*' || service === '>') {
    throw new Error(`subject "${subject}" must name a service as its second token`);
  }
  return service;
}

/** NATS subject matching: `*` matches one token, `>` the rest (one or more tokens). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}
