import { createHash } from 'node:crypto';

/**
 * Events of the user aggregate (stream `user-<id>`). They never carry password data:
 * every event is relayed to the bus; the password hash lives in `crew_credentials`.
 */
export interface UserCreated {
  userId: string;
  username: string;
  email: string;
  /** `bootstrap` for the first administrator. */
  origin?: 'api' | 'bootstrap';
}

export interface UserEventMap {
  UserCreated: UserCreated;
}

export type UserEvent = { [K in keyof UserEventMap]: { type: K; data: UserEventMap[K] } }[keyof UserEventMap];

/** A username is unique: its own stream (`username-<hash>`) is claimed with an expected version. */
export interface UsernameClaimed {
  userId: string;
  username: string;
}

export function userStreamId(id: string): string {
  return `user-${id}`;
}

export function usernameStreamId(username: string): string {
  return `username-${createHash('sha256').update(username).digest('hex').slice(0, 40)}`;
}

/** Lowercase slug: letters, digits and single dashes, 3-32 characters, starting with a letter. */
export const USERNAME = /^(?=.{3,32}$)[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

export interface UserState {
  id: string;
  version: number;
  username: string;
  email: string;
  createdAt: string;
}

export function evolveUser(state: UserState | undefined, event: UserEvent & { streamVersion: number; occurredAt: Date }): UserState {
  switch (event.type) {
    case 'UserCreated':
      return {
        id: event.data.userId,
        version: event.streamVersion,
        username: event.data.username,
        email: event.data.email,
        createdAt: event.occurredAt.toISOString(),
      };
  }
  if (!state) throw new Error('a user stream must start with UserCreated');
  return state;
}
