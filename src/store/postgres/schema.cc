#include "store/postgres/schema.h"

namespace parley::store::pg {
namespace {

// Key columns are real columns (text COLLATE "C": byte order, like the
// RocksDB keys); each record itself is the JSON of store/records.h in a
// bytea `body`, so fields can be added without a migration.
constexpr std::string_view kInitialSchema = R"sql(
CREATE TABLE store_meta (
  id int PRIMARY KEY CHECK (id = 1),
  last_version bigint NOT NULL  -- the global version counter; its row lock orders commits
);
INSERT INTO store_meta VALUES (1, 0);

CREATE TABLE users (user_id text COLLATE "C" PRIMARY KEY, body bytea NOT NULL);
CREATE TABLE tokens (token_hash text COLLATE "C" PRIMARY KEY, body bytea NOT NULL);

CREATE TABLE conversations (
  conversation_id text COLLATE "C" PRIMARY KEY,
  last_seq bigint NOT NULL,  -- row-locked by every append: seq is gap-free per conversation
  body bytea NOT NULL
);

-- Current and former members (left_seq <> 0).
CREATE TABLE members (
  conversation_id text COLLATE "C" NOT NULL,
  user_id text COLLATE "C" NOT NULL,
  current boolean NOT NULL,
  body bytea NOT NULL,
  PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX members_by_user ON members (user_id, conversation_id);

-- The conversation streams, keyed (conversation_id, seq) and spread over 16
-- hash partitions by conversation: one conversation lives in one partition.
CREATE TABLE entries (
  conversation_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  version bigint NOT NULL,
  message_id bigint,  -- messages only
  body bytea NOT NULL,
  PRIMARY KEY (conversation_id, seq)
) PARTITION BY HASH (conversation_id);
DO $$
BEGIN
  FOR i IN 0..15 LOOP
    EXECUTE format('CREATE TABLE entries_p%s PARTITION OF entries '
                   'FOR VALUES WITH (MODULUS 16, REMAINDER %s)', i, i);
  END LOOP;
END $$;
CREATE INDEX entries_by_version ON entries (conversation_id, version);
CREATE UNIQUE INDEX entries_by_message ON entries (conversation_id, message_id)
  WHERE message_id IS NOT NULL;

CREATE TABLE idempotency (
  sender text COLLATE "C" NOT NULL,
  client_msg_id text COLLATE "C" NOT NULL,
  ts bigint NOT NULL,
  body bytea NOT NULL,
  PRIMARY KEY (sender, client_msg_id)
);
CREATE INDEX idempotency_by_ts ON idempotency (ts);

CREATE TABLE receipts (
  conversation_id text COLLATE "C" NOT NULL,
  user_id text COLLATE "C" NOT NULL,
  body bytea NOT NULL,
  PRIMARY KEY (conversation_id, user_id)
);

-- Message lifecycle: "delete for me", edits and replies of a message (to
-- scrub with it), one reaction per (message, user).
CREATE TABLE hidden (
  conversation_id text COLLATE "C" NOT NULL,
  user_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  body bytea NOT NULL,
  PRIMARY KEY (conversation_id, user_id, seq)
);
CREATE TABLE refs (
  conversation_id text COLLATE "C" NOT NULL,
  target_seq bigint NOT NULL,
  seq bigint NOT NULL,
  PRIMARY KEY (conversation_id, target_seq, seq)
);
CREATE TABLE reactions (
  conversation_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  user_id text COLLATE "C" NOT NULL,
  emoji text NOT NULL,
  PRIMARY KEY (conversation_id, seq, user_id)
);

CREATE TABLE blocks (
  blocker text COLLATE "C" NOT NULL,
  blocked text COLLATE "C" NOT NULL,
  PRIMARY KEY (blocker, blocked)
);

-- Media metadata; `unreferenced`: no message carries it (a GC candidate).
CREATE TABLE media (
  media_id text COLLATE "C" PRIMARY KEY,
  sha256 text COLLATE "C" NOT NULL,
  created_at bigint NOT NULL,
  unreferenced boolean NOT NULL,
  body bytea NOT NULL
);
CREATE INDEX media_by_sha256 ON media (sha256);
CREATE INDEX media_unreferenced ON media (created_at, media_id) WHERE unreferenced;
CREATE TABLE media_refs (
  media_id text COLLATE "C" NOT NULL,
  conversation_id text COLLATE "C" NOT NULL,
  body bytea NOT NULL,
  PRIMARY KEY (media_id, conversation_id)
);
-- Live (neither deleted nor purged) messages carrying a media id.
CREATE TABLE media_messages (
  media_id text COLLATE "C" NOT NULL,
  conversation_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  PRIMARY KEY (media_id, conversation_id, seq)
);

-- Push notifications.
CREATE TABLE devices (
  user_id text COLLATE "C" NOT NULL,
  device_id text COLLATE "C" NOT NULL,
  platform text NOT NULL,
  token text NOT NULL,
  url text NOT NULL,
  body bytea NOT NULL,
  PRIMARY KEY (user_id, device_id),
  UNIQUE (platform, token, url)  -- one physical target belongs to one user
);
CREATE TABLE push_jobs (job_id text COLLATE "C" PRIMARY KEY, body bytea NOT NULL);
CREATE TABLE push_outbox (
  conversation_id text COLLATE "C" NOT NULL,
  seq bigint NOT NULL,
  PRIMARY KEY (conversation_id, seq)
);
CREATE TABLE mutes (
  user_id text COLLATE "C" NOT NULL,
  conversation_id text COLLATE "C" NOT NULL,
  PRIMARY KEY (user_id, conversation_id)
);
)sql";

}  // namespace

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> migrations = {
      {1, "initial schema", kInitialSchema},
  };
  return migrations;
}

Result<int> Migrate(Connection& conn) {
  // Serializes concurrent starts: the second waits, then finds nothing to do.
  constexpr std::string_view kLock = "SELECT pg_advisory_lock(7265727)";  // "parley" schema lock
  PARLEY_RETURN_IF_ERROR(conn.Run(kLock));
  Status s = conn.Run(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, "
      "description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
  int applied = 0;
  for (const Migration& m : Migrations()) {
    if (!s.ok()) break;
    Result<Rows> done =
        conn.Exec("SELECT 1 FROM schema_migrations WHERE version = $1", {Int(m.version)});
    if (!done.ok()) {
      s = done.status();
      break;
    }
    if (!done->empty()) continue;
    s = InTransaction(conn, [&]() -> Status {
      PARLEY_RETURN_IF_ERROR(conn.Run(m.sql));
      Result<Rows> noted =
          conn.Exec("INSERT INTO schema_migrations (version, description) VALUES ($1, $2)",
                    {Int(m.version), Text(m.description)});
      return noted.ok() ? Status::Ok() : noted.status();
    });
    if (s.ok()) ++applied;
  }
  if (conn.healthy()) conn.Run("SELECT pg_advisory_unlock(7265727)").ok();
  if (!s.ok()) return s;
  return applied;
}

}  // namespace parley::store::pg
