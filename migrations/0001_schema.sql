-- Core schema: workspaces, users, auth, chats, messages and the event outbox.

CREATE TABLE workspaces (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    -- Set right after the owner's row exists; NULL only inside the signup transaction.
    owner_id    BIGINT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id               BIGSERIAL PRIMARY KEY,
    workspace_id     BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- Stored lower-cased, so the unique index makes emails case-insensitive.
    email            TEXT NOT NULL CHECK (email = lower(email) AND char_length(email) BETWEEN 3 AND 254),
    username         TEXT NOT NULL CHECK (username ~ '^[A-Za-z0-9._-]{1,32}$'),
    fullname         TEXT NOT NULL CHECK (char_length(fullname) BETWEEN 1 AND 64),
    password_hash    TEXT NOT NULL,
    role             TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    avatar_url       TEXT CHECK (char_length(avatar_url) <= 2048),
    -- Bumped by logout-all and password changes; access tokens carry it and stop working once it moves.
    session_version  BIGINT NOT NULL DEFAULT 1,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_workspace_username_key ON users (workspace_id, lower(username));

ALTER TABLE workspaces
    ADD CONSTRAINT workspaces_owner_fkey FOREIGN KEY (owner_id) REFERENCES users (id)
    ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED;

CREATE TABLE workspace_invites (
    id            BIGSERIAL PRIMARY KEY,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    code          TEXT NOT NULL UNIQUE,
    created_by    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE refresh_tokens (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- All tokens descending from one sign-in; reuse of a rotated token revokes the whole family.
    family_id    UUID NOT NULL,
    -- SHA-256 of the token; the plaintext is never stored in PostgreSQL.
    token_hash   BYTEA NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    rotated_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE chats (
    id                BIGSERIAL PRIMARY KEY,
    workspace_id      BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    chat_type         TEXT NOT NULL CHECK (chat_type IN ('single', 'group', 'private_channel', 'public_channel')),
    name              TEXT CHECK (char_length(name) BETWEEN 1 AND 80),
    description       TEXT CHECK (char_length(description) <= 500),
    created_by        BIGINT NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    -- For single chats, the two members ordered low/high; the unique index allows one chat per pair.
    single_low        BIGINT REFERENCES users (id) ON DELETE RESTRICT,
    single_high       BIGINT REFERENCES users (id) ON DELETE RESTRICT,
    -- Highest message seq handed out; incremented inside each message insert transaction.
    last_seq          BIGINT NOT NULL DEFAULT 0,
    last_activity_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    archived_at       TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((chat_type = 'single') = (single_low IS NOT NULL AND single_high IS NOT NULL)),
    CHECK (single_low < single_high),
    CHECK (chat_type = 'single' OR name IS NOT NULL OR chat_type = 'group')
);
CREATE UNIQUE INDEX chats_single_pair_key ON chats (single_low, single_high) WHERE chat_type = 'single';
CREATE UNIQUE INDEX chats_public_name_key ON chats (workspace_id, lower(name)) WHERE chat_type = 'public_channel';
CREATE INDEX chats_workspace_idx ON chats (workspace_id, chat_type);

CREATE TABLE chat_members (
    chat_id        BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id        BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role           TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    -- Highest seq the member has read; moves forward only.
    last_read_seq  BIGINT NOT NULL DEFAULT 0 CHECK (last_read_seq >= 0),
    joined_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_members_user_idx ON chat_members (user_id);

CREATE TABLE messages (
    id               BIGSERIAL PRIMARY KEY,
    chat_id          BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq              BIGINT NOT NULL CHECK (seq > 0),
    sender_id        BIGINT NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    -- NULL once deleted.
    content          TEXT CHECK (char_length(content) BETWEEN 1 AND 4000),
    reply_to         BIGINT REFERENCES messages (id) ON DELETE SET NULL,
    idempotency_key  TEXT CHECK (char_length(idempotency_key) BETWEEN 1 AND 128),
    -- SHA-256 of the content as first sent, so a retry with the key can be compared after edits.
    idempotency_content_sha256  BYTEA,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    edited_at        TIMESTAMPTZ,
    deleted_at       TIMESTAMPTZ,
    CHECK ((deleted_at IS NULL) = (content IS NOT NULL)),
    UNIQUE (chat_id, seq)
);
CREATE UNIQUE INDEX messages_idempotency_key ON messages (sender_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE message_edits (
    id          BIGSERIAL PRIMARY KEY,
    message_id  BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    -- Text before the edit.
    content     TEXT NOT NULL,
    -- When that text was replaced.
    edited_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX message_edits_message_idx ON message_edits (message_id, id);

CREATE TABLE message_mentions (
    message_id  BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chat_id     BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX message_mentions_user_idx ON message_mentions (user_id, chat_id, seq);

-- Events waiting for the relay. Rows are written in the transaction of the change they describe.
CREATE TABLE outbox (
    id            BIGSERIAL PRIMARY KEY,
    kind          TEXT NOT NULL,
    workspace_id  BIGINT NOT NULL,
    chat_id       BIGINT NOT NULL,
    -- Protobuf fechatter.v1.Event.
    payload       BYTEA NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at  TIMESTAMPTZ
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

-- Wakes the relay when an event commits; polling remains the fallback.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fechatter_outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_notify_trigger AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
