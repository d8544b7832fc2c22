// Names for the generated OpenAPI schema types, so the rest of the client imports them from one place.
import type { components } from './schema';

type Schemas = components['schemas'];

export type AuthResponse = Schemas['AuthResponse'];
export type TokenPair = Schemas['TokenPair'];
export type UserView = Schemas['UserView'];
export type WorkspaceView = Schemas['WorkspaceView'];
export type ChatView = Schemas['ChatView'];
export type ChatSummary = Schemas['ChatSummary'];
export type MessageView = Schemas['MessageView'];
export type MessagePage = Schemas['MessagePage'];
export type MemberView = Schemas['MemberView'];
export type InviteView = Schemas['InviteView'];
export type TicketView = Schemas['TicketView'];
export type ErrorBody = Schemas['ErrorBody'];
export type SignupRequest = Schemas['SignupRequest'];
export type SigninRequest = Schemas['SigninRequest'];
export type CreateChatRequest = Schemas['CreateChatRequest'];
export type SendMessageRequest = Schemas['SendMessageRequest'];
export type UpdateMeRequest = Schemas['UpdateMeRequest'];
export type ChangePasswordRequest = Schemas['ChangePasswordRequest'];

/** A page of a cursor-paginated list (`?limit=&cursor=` in, `{items, next_cursor}` out). */
export interface CursorPage<T> {
  items: T[];
  next_cursor?: string | null;
}

export type ChatType = 'single' | 'group' | 'private_channel' | 'public_channel';
export type MemberRole = 'owner' | 'admin' | 'member';
