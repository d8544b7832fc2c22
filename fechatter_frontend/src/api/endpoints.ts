// One function per REST call that the client makes, typed with the generated OpenAPI schema.
import { http } from './http';
import type {
  AuthResponse,
  ChangePasswordRequest,
  ChatSummary,
  ChatView,
  CreateChatRequest,
  CursorPage,
  InviteView,
  MemberRole,
  MemberView,
  MessagePage,
  MessageView,
  SendMessageRequest,
  SigninRequest,
  SignupRequest,
  TicketView,
  TokenPair,
  UpdateMeRequest,
  UserView,
  WorkspaceView,
} from './types';

export const api = {
  signup: (body: SignupRequest) => http.request<AuthResponse>('POST', '/api/signup', { body, auth: false }),
  signin: (body: SigninRequest) => http.request<AuthResponse>('POST', '/api/signin', { body, auth: false }),
  refresh: (refreshToken: string) =>
    http.request<TokenPair>('POST', '/api/refresh', { body: { refresh_token: refreshToken }, auth: false }),
  logout: (refreshToken: string) =>
    http.request<void>('POST', '/api/logout', { body: { refresh_token: refreshToken }, auth: false }),

  me: () => http.request<UserView>('GET', '/api/users/me'),
  updateMe: (body: UpdateMeRequest) => http.request<UserView>('PATCH', '/api/users/me', { body }),
  changePassword: (body: ChangePasswordRequest) =>
    http.request<TokenPair>('POST', '/api/users/me/password', { body }),

  workspace: () => http.request<WorkspaceView>('GET', '/api/workspace'),
  workspaceUsers: (cursor?: string | null) =>
    http.request<CursorPage<UserView>>('GET', '/api/workspace/users', { query: { limit: 100, cursor } }),
  createInvite: () => http.request<InviteView>('POST', '/api/workspace/invites', { body: {} }),

  chats: () => http.request<{ items: ChatSummary[] }>('GET', '/api/chats'),
  chat: (chatId: number) => http.request<ChatView>('GET', `/api/chats/${chatId}`),
  createChat: (body: CreateChatRequest) => http.request<ChatView>('POST', '/api/chats', { body }),
  publicChannels: (cursor?: string | null) =>
    http.request<CursorPage<ChatView>>('GET', '/api/chats/public', { query: { limit: 100, cursor } }),
  joinChat: (chatId: number) => http.request<ChatView>('POST', `/api/chats/${chatId}/join`, { body: {} }),
  leaveChat: (chatId: number) => http.request<void>('POST', `/api/chats/${chatId}/leave`, { body: {} }),

  members: (chatId: number, cursor?: string | null) =>
    http.request<CursorPage<MemberView>>('GET', `/api/chats/${chatId}/members`, {
      query: { limit: 100, cursor },
    }),
  addMembers: (chatId: number, userIds: number[]) =>
    http.request<CursorPage<MemberView>>('POST', `/api/chats/${chatId}/members`, {
      body: { user_ids: userIds },
    }),
  removeMember: (chatId: number, userId: number) =>
    http.request<void>('DELETE', `/api/chats/${chatId}/members/${userId}`),
  setMemberRole: (chatId: number, userId: number, role: MemberRole) =>
    http.request<MemberView>('PATCH', `/api/chats/${chatId}/members/${userId}`, { body: { role } }),

  messages: (chatId: number, page: { before?: number; after?: number; limit?: number }) =>
    http.request<MessagePage>('GET', `/api/chats/${chatId}/messages`, { query: page }),
  sendMessage: (chatId: number, body: SendMessageRequest) =>
    http.request<MessageView>('POST', `/api/chats/${chatId}/messages`, { body }),
  editMessage: (chatId: number, messageId: number, content: string) =>
    http.request<MessageView>('PATCH', `/api/chats/${chatId}/messages/${messageId}`, { body: { content } }),
  deleteMessage: (chatId: number, messageId: number) =>
    http.request<void>('DELETE', `/api/chats/${chatId}/messages/${messageId}`),
  markRead: (chatId: number, seq: number) =>
    http.request<void>('POST', `/api/chats/${chatId}/read`, { body: { seq } }),
  typing: (chatId: number) => http.request<void>('POST', `/api/chats/${chatId}/typing`, { body: {} }),

  eventTicket: () => http.request<TicketView>('POST', '/api/events/ticket', { body: {} }),
};

/** Fetches every page of a cursor-paginated list. */
export async function fetchAllPages<T>(
  fetchPage: (cursor: string | null) => Promise<CursorPage<T>>,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const page: CursorPage<T> = await fetchPage(cursor);
    items.push(...page.items);
    cursor = page.next_cursor ?? null;
  } while (cursor);
  return items;
}
