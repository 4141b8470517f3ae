/* storage-postgres: rooms and messages in PostgreSQL, through libpq driven
 * by the core's libevent loop (never a blocking libpq call).
 *
 * A small fixed pool of connections, each in pipeline mode. Operations are
 * routed by room so that everything about one room goes down one connection
 * in call order; on each connection they queue while a batch is in flight,
 * and the next batch takes all that queued at once as one transaction: many
 * appends share one commit (group commit), and none is answered before the
 * COMMIT came back, so a RECEIPT means committed.
 *
 * Correctness across chatd instances rests on PostgreSQL's row locks: an
 * append locks its room row (which holds last_seq) until commit, so seq is
 * gap-free and strictly increasing whoever appends; a claim is a conditional
 * UPDATE, so one claimant wins. A batch that touches several rooms locks
 * them first in id order, so two instances' batches cannot deadlock on them;
 * a deadlock or serialization failure anyway rolls the batch back and runs
 * it again. The schema is versioned in chatd_schema and migrated under an
 * advisory lock, so instances starting together migrate once.
 *
 * Config: conninfo (required; libpq keywords or a URI), connections (2),
 * connect_timeout (5s), max_pending (10000).
 *
 * Durability: an op is answered after its transaction's COMMIT returned, so
 * as durable as the server's synchronous_commit makes a commit (on, the
 * default: flushed to its WAL, and to synchronous standbys if configured).
 * An op cut off by a lost connection is answered UNAVAILABLE though its
 * COMMIT may have landed: a client retrying an append with its client-id
 * then gets EXISTS, not a second copy. */
#include <chatd/plugin.h>
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include "storage_op.h"

#define SCHEMA_VERSION 13
#define MAX_BATCH 256          /* ops per transaction */
#define MAX_TRIES 5            /* runs of an op rolled back by deadlocks before giving up */
#define LIST_MAX 1000          /* room_list's answer when the filter gives no limit */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define LOOKUP_POLL_MS 10
/* Any constant will do, as long as every chatd uses the same one. */
#define MIGRATION_LOCK "7236540391827160577"

/* ------------------------------------------------------------- schema */

static const char *const migrations[SCHEMA_VERSION] = {
    /* 1: the first schema. Each action is one function so that an op is one
     * statement in the pipeline, whatever it has to check first. */
    "CREATE TABLE chatd_rooms ("
    " id text PRIMARY KEY, kind smallint NOT NULL, state smallint NOT NULL, title text, owner text, agent text,"
    " created_ms bigint NOT NULL, assigned_ms bigint NOT NULL DEFAULT 0, last_seq bigint NOT NULL DEFAULT 0,"
    " unique_key text UNIQUE,"
    /* created_ms ties are common; this keeps the queue first come, first served */
    " ord bigint GENERATED ALWAYS AS IDENTITY);\n"
    "CREATE INDEX chatd_rooms_queue ON chatd_rooms (kind, state, created_ms, ord);\n"
    "CREATE INDEX chatd_rooms_agent ON chatd_rooms (agent) WHERE agent IS NOT NULL;\n"
    "CREATE TABLE chatd_members (room text NOT NULL, user_id text NOT NULL, PRIMARY KEY (room, user_id));\n"
    "CREATE INDEX chatd_members_user ON chatd_members (user_id);\n"
    /* The primary key serves \"newest N before seq\" as a backward index scan. */
    "CREATE TABLE chatd_messages (room text NOT NULL, seq bigint NOT NULL, id text NOT NULL, sender text NOT NULL,"
    " client_id text, ts_ms bigint NOT NULL, body bytea NOT NULL, PRIMARY KEY (room, seq));\n"
    "CREATE UNIQUE INDEX chatd_messages_client ON chatd_messages (room, sender, client_id)"
    " WHERE client_id IS NOT NULL;\n"
    "CREATE TABLE chatd_marks (room text NOT NULL, user_id text NOT NULL, seq bigint NOT NULL,"
    " PRIMARY KEY (room, user_id));\n"
    "CREATE TYPE chatd_room_t AS (id text, kind smallint, state smallint, title text, owner text, agent text,"
    " created_ms bigint, assigned_ms bigint, last_seq bigint, members text[], read_seq bigint,"
    " lm_id text, lm_sender text, lm_client_id text, lm_ts_ms bigint, lm_body bytea);\n"
    "CREATE FUNCTION chatd_room_view(p_id text, p_user text) RETURNS SETOF chatd_room_t"
    " LANGUAGE sql STABLE AS $$\n"
    "  SELECT r.id, r.kind, r.state, r.title, r.owner, r.agent, r.created_ms, r.assigned_ms, r.last_seq,\n"
    "         ARRAY(SELECT m.user_id FROM chatd_members m WHERE m.room = r.id ORDER BY m.user_id),\n"
    "         coalesce((SELECT k.seq FROM chatd_marks k WHERE k.room = r.id AND k.user_id = p_user), 0),\n"
    "         lm.id, lm.sender, lm.client_id, lm.ts_ms, lm.body\n"
    "    FROM chatd_rooms r\n"
    "    LEFT JOIN chatd_messages lm ON p_user IS NOT NULL AND lm.room = r.id AND lm.seq = r.last_seq\n"
    "   WHERE r.id = p_id\n"
    "$$;\n"
    "CREATE FUNCTION chatd_room_create(p_id text, p_kind smallint, p_state smallint, p_title text,"
    " p_owner text, p_agent text, p_created bigint, p_assigned bigint, p_key text, p_members text[])"
    " RETURNS TABLE (o_done boolean, o_room chatd_room_t) LANGUAGE plpgsql AS $$\n"
    "DECLARE other text;\n"
    "BEGIN\n"
    "  LOOP\n"
    "    INSERT INTO chatd_rooms (id, kind, state, title, owner, agent, created_ms, assigned_ms, unique_key)\n"
    "    VALUES (p_id, p_kind, p_state, p_title, p_owner, p_agent, p_created, p_assigned, p_key)\n"
    "    ON CONFLICT DO NOTHING;\n"
    "    IF FOUND THEN\n"
    "      INSERT INTO chatd_members (room, user_id) SELECT p_id, u FROM unnest(p_members) AS u\n"
    "      ON CONFLICT DO NOTHING;\n"
    "      RETURN QUERY SELECT true, v FROM chatd_room_view(p_id, NULL) AS v;\n"
    "      RETURN;\n"
    "    END IF;\n"
    "    SELECT r.id INTO other FROM chatd_rooms r WHERE r.unique_key = p_key;\n"
    "    IF other IS NULL THEN\n"
    "      SELECT r.id INTO other FROM chatd_rooms r WHERE r.id = p_id;\n"
    "    END IF;\n"
    "    IF other IS NOT NULL THEN\n"
    "      RETURN QUERY SELECT false, v FROM chatd_room_view(other, NULL) AS v;\n"
    "      RETURN;\n"
    "    END IF;\n"
    /* the holder of the key completed or went away after we collided with it */
    "  END LOOP;\n"
    "END\n"
    "$$;\n"
    "CREATE FUNCTION chatd_room_claim(p_id text, p_agent text, p_now bigint)"
    " RETURNS TABLE (o_done boolean, o_room chatd_room_t) LANGUAGE plpgsql AS $$\n"
    "DECLARE won boolean;\n"
    "BEGIN\n"
    /* READ COMMITTED re-checks the WHERE on the newest row version after
     * waiting for a concurrent claimant: only one UPDATE finds state = 1. */
    "  UPDATE chatd_rooms SET state = 2, agent = p_agent, assigned_ms = p_now\n"
    "   WHERE id = p_id AND kind = 1 AND state = 1;\n"
    "  won := FOUND;\n"
    "  IF won THEN\n"
    "    INSERT INTO chatd_members (room, user_id) VALUES (p_id, p_agent) ON CONFLICT DO NOTHING;\n"
    "  END IF;\n"
    "  RETURN QUERY SELECT won, v FROM chatd_room_view(p_id, NULL) AS v;\n"
    "END\n"
    "$$;\n"
    "CREATE FUNCTION chatd_room_complete(p_id text, p_agent text)"
    " RETURNS TABLE (o_done boolean, o_room chatd_room_t) LANGUAGE plpgsql AS $$\n"
    "DECLARE ok boolean;\n"
    "BEGIN\n"
    "  UPDATE chatd_rooms SET state = 3, unique_key = NULL WHERE id = p_id AND agent = p_agent AND state = 2;\n"
    "  ok := FOUND;\n"
    "  RETURN QUERY SELECT ok, v FROM chatd_room_view(p_id, NULL) AS v;\n"
    "END\n"
    "$$;\n"
    "CREATE FUNCTION chatd_room_delete(p_id text) RETURNS boolean LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    /* The room row goes first: holding its lock, the statements below see
     * every append committed before, and no new one can start. */
    "  DELETE FROM chatd_rooms WHERE id = p_id;\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN false;\n"
    "  END IF;\n"
    "  DELETE FROM chatd_messages WHERE room = p_id;\n"
    "  DELETE FROM chatd_members WHERE room = p_id;\n"
    "  DELETE FROM chatd_marks WHERE room = p_id;\n"
    "  RETURN true;\n"
    "END\n"
    "$$;\n"
    "CREATE FUNCTION chatd_append(p_room text, p_sender text, p_client text, p_ts bigint, p_body bytea)"
    " RETURNS TABLE (o_done boolean, o_seq bigint, o_id text, o_ts_ms bigint, o_body bytea)"
    " LANGUAGE plpgsql AS $$\n"
    "DECLARE s bigint;\n"
    "BEGIN\n"
    "  IF p_client IS NOT NULL THEN\n"
    /* Lock before looking: then the look sees every append committed
     * before ours, and a retry never takes a seq of its own. */
    "    PERFORM 1 FROM chatd_rooms WHERE id = p_room FOR NO KEY UPDATE;\n"
    "    IF NOT FOUND THEN\n"
    "      RETURN;\n"
    "    END IF;\n"
    "    RETURN QUERY SELECT false, m.seq, m.id, m.ts_ms, m.body FROM chatd_messages m\n"
    "     WHERE m.room = p_room AND m.sender = p_sender AND m.client_id = p_client;\n"
    "    IF FOUND THEN\n"
    "      RETURN;\n"
    "    END IF;\n"
    "  END IF;\n"
    "  UPDATE chatd_rooms SET last_seq = last_seq + 1 WHERE id = p_room RETURNING last_seq INTO s;\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  INSERT INTO chatd_messages (room, seq, id, sender, client_id, ts_ms, body)\n"
    "  VALUES (p_room, s, p_room || '-' || s, p_sender, p_client, p_ts, p_body);\n"
    "  RETURN QUERY SELECT true, s, p_room || '-' || s, p_ts, NULL::bytea;\n"
    "END\n"
    "$$;\n",
    /* 2: many appends to one room in one statement. Row o_i answers the
     * o_i-th message: stored now (o_done), or the one stored before with
     * the same sender and client id, in the table or earlier in the call. */
    "CREATE FUNCTION chatd_append_many(p_room text, p_senders text[], p_clients text[], p_ts bigint[],"
    " p_bodies bytea[])"
    " RETURNS TABLE (o_i integer, o_done boolean, o_seq bigint, o_id text, o_ts_ms bigint, o_body bytea)"
    " LANGUAGE plpgsql AS $$\n"
    "DECLARE base bigint;\n"
    "BEGIN\n"
    /* the lock first, as in chatd_append: the statement below then sees
     * every append committed before ours */
    "  SELECT r.last_seq INTO base FROM chatd_rooms r WHERE r.id = p_room FOR NO KEY UPDATE;\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  RETURN QUERY\n"
    "  WITH u AS (SELECT t.i::integer AS i, t.s, t.c, t.ts, t.b\n"
    "               FROM unnest(p_senders, p_clients, p_ts, p_bodies) WITH ORDINALITY AS t(s, c, ts, b, i)),\n"
    /* one look-up in chatd_messages_client per message with a client id
     * (the LIMIT keeps the planner from making it a join that reads every
     * message of the room) */
    "  old AS (SELECT u.i, m.seq, m.id, m.ts_ms, m.body FROM u\n"
    "            CROSS JOIN LATERAL (SELECT x.seq, x.id, x.ts_ms, x.body FROM chatd_messages x\n"
    "                                 WHERE x.room = p_room AND x.sender = u.s AND x.client_id = u.c\n"
    "                                   AND x.client_id IS NOT NULL LIMIT 1) m),\n"
    "  todo AS (SELECT u.*, CASE WHEN u.c IS NULL THEN u.i ELSE min(u.i) OVER (PARTITION BY u.s, u.c) END AS first\n"
    "             FROM u WHERE u.i NOT IN (SELECT old.i FROM old)),\n"
    "  nw AS (SELECT todo.i, todo.s, todo.c, todo.ts, todo.b, base + row_number() OVER (ORDER BY todo.i) AS seq\n"
    "           FROM todo WHERE todo.i = todo.first),\n"
    "  ins AS (INSERT INTO chatd_messages (room, seq, id, sender, client_id, ts_ms, body)\n"
    "          SELECT p_room, nw.seq, p_room || '-' || nw.seq, nw.s, nw.c, nw.ts, nw.b FROM nw),\n"
    "  upd AS (UPDATE chatd_rooms SET last_seq = base + (SELECT count(*) FROM nw) WHERE id = p_room)\n"
    "  SELECT old.i, false, old.seq, old.id, old.ts_ms, old.body FROM old\n"
    "  UNION ALL SELECT nw.i, true, nw.seq, p_room || '-' || nw.seq, nw.ts, NULL::bytea FROM nw\n"
    "  UNION ALL SELECT todo.i, false, nw.seq, p_room || '-' || nw.seq, nw.ts, nw.b\n"
    "              FROM todo JOIN nw ON nw.i = todo.first WHERE todo.i <> todo.first;\n"
    "END\n"
    "$$;\n",
    /* 3: group roles. A member's role: 1 member, 2 admin (the owner is
     * chatd_rooms.owner); joined: the order members joined in (rows of
     * version 2 are numbered as they are found). The room view lists
     * members in join order and adds the admins. */
    "ALTER TABLE chatd_members ADD COLUMN role smallint NOT NULL DEFAULT 1;\n"
    "ALTER TABLE chatd_members ADD COLUMN joined bigint GENERATED ALWAYS AS IDENTITY;\n"
    "ALTER TYPE chatd_room_t ADD ATTRIBUTE admins text[];\n"
    "CREATE OR REPLACE FUNCTION chatd_room_view(p_id text, p_user text) RETURNS SETOF chatd_room_t"
    " LANGUAGE sql STABLE AS $$\n"
    "  SELECT r.id, r.kind, r.state, r.title, r.owner, r.agent, r.created_ms, r.assigned_ms, r.last_seq,\n"
    "         ARRAY(SELECT m.user_id FROM chatd_members m WHERE m.room = r.id ORDER BY m.joined),\n"
    "         coalesce((SELECT k.seq FROM chatd_marks k WHERE k.room = r.id AND k.user_id = p_user), 0),\n"
    "         lm.id, lm.sender, lm.client_id, lm.ts_ms, lm.body,\n"
    "         ARRAY(SELECT m.user_id FROM chatd_members m WHERE m.room = r.id AND m.role = 2 ORDER BY m.joined)\n"
    "    FROM chatd_rooms r\n"
    "    LEFT JOIN chatd_messages lm ON p_user IS NOT NULL AND lm.room = r.id AND lm.seq = r.last_seq\n"
    "   WHERE r.id = p_id\n"
    "$$;\n"
    "CREATE FUNCTION chatd_member_role(p_id text, p_owner text, p_user text) RETURNS smallint"
    " LANGUAGE sql STABLE AS $$\n"
    "  SELECT coalesce((SELECT CASE WHEN m.user_id = p_owner THEN 3 ELSE m.role END FROM chatd_members m\n"
    "                    WHERE m.room = p_id AND m.user_id = p_user), 0)::smallint\n"
    "$$;\n"
    /* o_status is the chatd_status of the answer (plugin.h, group_change);
     * no row at all: no such room. */
    "CREATE FUNCTION chatd_group_change(p_id text, p_what smallint, p_user text, p_role smallint, p_title text,"
    " p_actor text, p_min smallint, p_outrank boolean)"
    " RETURNS TABLE (o_status smallint, o_room chatd_room_t) LANGUAGE plpgsql AS $$\n"
    "DECLARE k smallint; own text; u smallint; a smallint; st smallint := 0; nxt text; was chatd_room_t;\n"
    "BEGIN\n"
    /* The room row's lock puts every change of the group, from any
     * instance, one after the other; each sees the one before. */
    "  SELECT r.kind, r.owner INTO k, own FROM chatd_rooms r WHERE r.id = p_id FOR NO KEY UPDATE;\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  u := chatd_member_role(p_id, own, p_user);\n"
    "  a := chatd_member_role(p_id, own, p_actor);\n"
    "  IF k <> 3 THEN\n"
    "    st := 2;\n"
    "  ELSIF p_actor IS NOT NULL AND (a < p_min OR (p_outrank AND a <= u)) THEN\n"
    "    st := 6;\n"
    "  ELSIF p_what = 1 THEN\n"
    "    IF u > 0 THEN\n"
    "      st := 4;\n"
    "    ELSE\n"
    "      INSERT INTO chatd_members (room, user_id) VALUES (p_id, p_user) ON CONFLICT DO NOTHING;\n"
    "    END IF;\n"
    "  ELSIF p_what = 2 THEN\n"
    "    IF u = 0 THEN\n"
    "      st := 5;\n"
    "    ELSE\n"
    "      DELETE FROM chatd_members WHERE room = p_id AND user_id = p_user;\n"
    /* the owner left: the admin who joined first, else the member */
    "      IF u = 3 THEN\n"
    "        SELECT m.user_id INTO nxt FROM chatd_members m WHERE m.room = p_id ORDER BY m.role DESC, m.joined LIMIT 1;\n"
    "        IF FOUND THEN\n"
    "          UPDATE chatd_rooms SET owner = nxt WHERE id = p_id;\n"
    "          UPDATE chatd_members SET role = 1 WHERE room = p_id AND user_id = nxt;\n"
    "        END IF;\n"
    "      END IF;\n"
    "    END IF;\n"
    "  ELSIF p_what = 3 THEN\n"
    "    IF u = 0 OR (u = 3 AND p_role <> 3) THEN\n"
    "      st := 5;\n"
    "    ELSIF u = p_role THEN\n"
    "      st := 4;\n"
    "    ELSIF p_role = 3 THEN\n"
    "      UPDATE chatd_members SET role = 2 WHERE room = p_id AND user_id = own;\n"
    "      UPDATE chatd_members SET role = 1 WHERE room = p_id AND user_id = p_user;\n"
    "      UPDATE chatd_rooms SET owner = p_user WHERE id = p_id;\n"
    "    ELSIF p_role IN (1, 2) THEN\n"
    "      UPDATE chatd_members SET role = p_role WHERE room = p_id AND user_id = p_user;\n"
    "    ELSE\n"
    "      st := 2;\n"
    "    END IF;\n"
    "  ELSIF p_what = 4 AND p_title IS NOT NULL THEN\n"
    "    UPDATE chatd_rooms SET title = p_title WHERE id = p_id;\n"
    "  ELSIF p_what = 5 THEN\n"
    "    SELECT * INTO was FROM chatd_room_view(p_id, NULL);\n"
    "    PERFORM chatd_room_delete(p_id);\n"
    "    RETURN QUERY SELECT 0::smallint, was;\n"
    "    RETURN;\n"
    "  ELSE\n"
    "    st := 2;\n"
    "  END IF;\n"
    "  RETURN QUERY SELECT st, v FROM chatd_room_view(p_id, NULL) AS v;\n"
    "END\n"
    "$$;\n",
    /* 4: transcripts. A closed support room (state 4) keeps its history
     * until retention purges it; the room row grows closed_ms (the last
     * column of chatd_room_t). */
    "ALTER TABLE chatd_rooms ADD COLUMN closed_ms bigint NOT NULL DEFAULT 0;\n"
    "CREATE INDEX chatd_rooms_closed ON chatd_rooms (closed_ms) WHERE state = 4;\n"
    "ALTER TYPE chatd_room_t ADD ATTRIBUTE closed_ms bigint;\n"
    "CREATE OR REPLACE FUNCTION chatd_room_view(p_id text, p_user text) RETURNS SETOF chatd_room_t"
    " LANGUAGE sql STABLE AS $$\n"
    "  SELECT r.id, r.kind, r.state, r.title, r.owner, r.agent, r.created_ms, r.assigned_ms, r.last_seq,\n"
    "         ARRAY(SELECT m.user_id FROM chatd_members m WHERE m.room = r.id ORDER BY m.joined),\n"
    "         coalesce((SELECT k.seq FROM chatd_marks k WHERE k.room = r.id AND k.user_id = p_user), 0),\n"
    "         lm.id, lm.sender, lm.client_id, lm.ts_ms, lm.body,\n"
    "         ARRAY(SELECT m.user_id FROM chatd_members m WHERE m.room = r.id AND m.role = 2 ORDER BY m.joined),\n"
    "         r.closed_ms\n"
    "    FROM chatd_rooms r\n"
    "    LEFT JOIN chatd_messages lm ON p_user IS NOT NULL AND lm.room = r.id AND lm.seq = r.last_seq\n"
    "   WHERE r.id = p_id\n"
    "$$;\n"
    "CREATE FUNCTION chatd_room_close(p_id text, p_now bigint)"
    " RETURNS TABLE (o_done boolean, o_room chatd_room_t) LANGUAGE plpgsql AS $$\n"
    "DECLARE ok boolean;\n"
    "BEGIN\n"
    "  UPDATE chatd_rooms SET state = 4, closed_ms = p_now, unique_key = NULL\n"
    "   WHERE id = p_id AND kind = 1 AND state <> 4;\n"
    "  ok := FOUND;\n"
    "  RETURN QUERY SELECT ok, v FROM chatd_room_view(p_id, NULL) AS v;\n"
    "END\n"
    "$$;\n"
    /* SKIP LOCKED: instances purging at once take different rooms, and
     * none waits for a room someone is writing to. */
    "CREATE FUNCTION chatd_rooms_purge(p_before bigint, p_limit integer) RETURNS integer LANGUAGE plpgsql AS $$\n"
    "DECLARE ids text[];\n"
    "BEGIN\n"
    "  SELECT array_agg(x.id) INTO ids FROM (SELECT r.id FROM chatd_rooms r\n"
    "     WHERE r.kind = 1 AND r.state = 4 AND r.closed_ms < p_before\n"
    "     ORDER BY r.closed_ms LIMIT p_limit FOR UPDATE SKIP LOCKED) x;\n"
    "  IF ids IS NULL THEN\n"
    "    RETURN 0;\n"
    "  END IF;\n"
    "  DELETE FROM chatd_rooms WHERE id = ANY(ids);\n"
    "  DELETE FROM chatd_messages WHERE room = ANY(ids);\n"
    "  DELETE FROM chatd_members WHERE room = ANY(ids);\n"
    "  DELETE FROM chatd_marks WHERE room = ANY(ids);\n"
    "  RETURN cardinality(ids);\n"
    "END\n"
    "$$;\n"
    "CREATE FUNCTION chatd_user_erase(p_user text)"
    " RETURNS TABLE (o_rooms bigint, o_messages bigint, o_memberships bigint) LANGUAGE plpgsql AS $$\n"
    "DECLARE gone text[]; kept text[]; n bigint; g text; nxt text;\n"
    "BEGIN\n"
    /* the user's rooms locked first, in id order as batches lock theirs */
    "  PERFORM 1 FROM chatd_rooms r WHERE r.id IN (SELECT m.room FROM chatd_members m WHERE m.user_id = p_user)\n"
    "   ORDER BY r.id FOR UPDATE;\n"
    "  SELECT coalesce(array_agg(r.id), '{}') INTO gone FROM chatd_rooms r\n"
    "    JOIN chatd_members m ON m.room = r.id AND m.user_id = p_user\n"
    "   WHERE r.kind = 1 AND r.owner IS NOT DISTINCT FROM p_user;\n"
    "  SELECT coalesce(array_agg(r.id), '{}') INTO kept FROM chatd_rooms r\n"
    "    JOIN chatd_members m ON m.room = r.id AND m.user_id = p_user\n"
    "   WHERE NOT (r.kind = 1 AND r.owner IS NOT DISTINCT FROM p_user);\n"
    "  DELETE FROM chatd_rooms WHERE id = ANY(gone);\n"
    "  DELETE FROM chatd_messages WHERE room = ANY(gone);\n"
    "  DELETE FROM chatd_members WHERE room = ANY(gone);\n"
    "  DELETE FROM chatd_marks WHERE room = ANY(gone);\n"
    "  UPDATE chatd_messages SET sender = '', client_id = NULL, body = ''::bytea\n"
    "   WHERE room = ANY(kept) AND sender = p_user;\n"
    "  GET DIAGNOSTICS n = ROW_COUNT;\n"
    "  DELETE FROM chatd_marks WHERE room = ANY(kept) AND user_id = p_user;\n"
    "  DELETE FROM chatd_members WHERE room = ANY(kept) AND user_id = p_user;\n"
    /* a group the user owned passes on, as chatd_group_change's removal */
    "  FOR g IN SELECT r.id FROM chatd_rooms r WHERE r.id = ANY(kept) AND r.kind = 3 AND r.owner = p_user LOOP\n"
    "    SELECT m.user_id INTO nxt FROM chatd_members m WHERE m.room = g ORDER BY m.role DESC, m.joined LIMIT 1;\n"
    "    IF FOUND THEN\n"
    "      UPDATE chatd_rooms SET owner = nxt WHERE id = g;\n"
    "      UPDATE chatd_members SET role = 1 WHERE room = g AND user_id = nxt;\n"
    "    END IF;\n"
    "  END LOOP;\n"
    "  UPDATE chatd_rooms SET unique_key = NULL WHERE id = ANY(kept) AND kind = 2;\n"
    "  RETURN QUERY SELECT cardinality(gone)::bigint, n, cardinality(kept)::bigint;\n"
    "END\n"
    "$$;\n",
    /* 5: a message's content type (SDK 2.1): stored by the appends (new
     * overloads with it; the old ones stay for instances not yet upgraded),
     * returned in history and as the last message (the last column of
     * chatd_room_t); an erase (sender '') clears it with the body. */
    "ALTER TABLE chatd_messages ADD COLUMN content_type text;\n"
    "ALTER TYPE chatd_room_t ADD ATTRIBUTE lm_content_type text;\n"
    "CREATE OR REPLACE FUNCTION chatd_room_view(p_id text, p_user text) RETURNS SETOF chatd_room_t"
    " LANGUAGE sql STABLE AS $$\n"
    "  SELECT r.id, r.kind, r.state, r.title, r.owner, r.agent, r.created_ms, r.assigned_ms, r.last_seq,\n"
    "         ARRAY(SELECT m.user_id FROM chatd_members m WHERE m.room = r.id ORDER BY m.joined),\n"
    "         coalesce((SELECT k.seq FROM chatd_marks k WHERE k.room = r.id AND k.user_id = p_user), 0),\n"
    "         lm.id, lm.sender, lm.client_id, lm.ts_ms, lm.body,\n"
    "         ARRAY(SELECT m.user_id FROM chatd_members m WHERE m.room = r.id AND m.role = 2 ORDER BY m.joined),\n"
    "         r.closed_ms, lm.content_type\n"
    "    FROM chatd_rooms r\n"
    "    LEFT JOIN chatd_messages lm ON p_user IS NOT NULL AND lm.room = r.id AND lm.seq = r.last_seq\n"
    "   WHERE r.id = p_id\n"
    "$$;\n"
    "CREATE FUNCTION chatd_append(p_room text, p_sender text, p_client text, p_ts bigint, p_body bytea,"
    " p_ct text)"
    " RETURNS TABLE (o_done boolean, o_seq bigint, o_id text, o_ts_ms bigint, o_body bytea)"
    " LANGUAGE plpgsql AS $$\n"
    "DECLARE s bigint;\n"
    "BEGIN\n"
    "  IF p_client IS NOT NULL THEN\n"
    /* Lock before looking: then the look sees every append committed
     * before ours, and a retry never takes a seq of its own. */
    "    PERFORM 1 FROM chatd_rooms WHERE id = p_room FOR NO KEY UPDATE;\n"
    "    IF NOT FOUND THEN\n"
    "      RETURN;\n"
    "    END IF;\n"
    "    RETURN QUERY SELECT false, m.seq, m.id, m.ts_ms, m.body FROM chatd_messages m\n"
    "     WHERE m.room = p_room AND m.sender = p_sender AND m.client_id = p_client;\n"
    "    IF FOUND THEN\n"
    "      RETURN;\n"
    "    END IF;\n"
    "  END IF;\n"
    "  UPDATE chatd_rooms SET last_seq = last_seq + 1 WHERE id = p_room RETURNING last_seq INTO s;\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  INSERT INTO chatd_messages (room, seq, id, sender, client_id, ts_ms, body, content_type)\n"
    "  VALUES (p_room, s, p_room || '-' || s, p_sender, p_client, p_ts, p_body, p_ct);\n"
    "  RETURN QUERY SELECT true, s, p_room || '-' || s, p_ts, NULL::bytea;\n"
    "END\n"
    "$$;\n"
    "CREATE FUNCTION chatd_append_many(p_room text, p_senders text[], p_clients text[], p_ts bigint[],"
    " p_bodies bytea[], p_cts text[])"
    " RETURNS TABLE (o_i integer, o_done boolean, o_seq bigint, o_id text, o_ts_ms bigint, o_body bytea)"
    " LANGUAGE plpgsql AS $$\n"
    "DECLARE base bigint;\n"
    "BEGIN\n"
    /* the lock first, as in chatd_append: the statement below then sees
     * every append committed before ours */
    "  SELECT r.last_seq INTO base FROM chatd_rooms r WHERE r.id = p_room FOR NO KEY UPDATE;\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  RETURN QUERY\n"
    "  WITH u AS (SELECT t.i::integer AS i, t.s, t.c, t.ts, t.b, t.ct\n"
    "               FROM unnest(p_senders, p_clients, p_ts, p_bodies, p_cts)"
    "               WITH ORDINALITY AS t(s, c, ts, b, ct, i)),\n"
    /* one look-up in chatd_messages_client per message with a client id
     * (the LIMIT keeps the planner from making it a join that reads every
     * message of the room) */
    "  old AS (SELECT u.i, m.seq, m.id, m.ts_ms, m.body FROM u\n"
    "            CROSS JOIN LATERAL (SELECT x.seq, x.id, x.ts_ms, x.body FROM chatd_messages x\n"
    "                                 WHERE x.room = p_room AND x.sender = u.s AND x.client_id = u.c\n"
    "                                   AND x.client_id IS NOT NULL LIMIT 1) m),\n"
    "  todo AS (SELECT u.*, CASE WHEN u.c IS NULL THEN u.i ELSE min(u.i) OVER (PARTITION BY u.s, u.c) END AS first\n"
    "             FROM u WHERE u.i NOT IN (SELECT old.i FROM old)),\n"
    "  nw AS (SELECT todo.i, todo.s, todo.c, todo.ts, todo.b, todo.ct,\n"
    "                base + row_number() OVER (ORDER BY todo.i) AS seq\n"
    "           FROM todo WHERE todo.i = todo.first),\n"
    "  ins AS (INSERT INTO chatd_messages (room, seq, id, sender, client_id, ts_ms, body, content_type)\n"
    "          SELECT p_room, nw.seq, p_room || '-' || nw.seq, nw.s, nw.c, nw.ts, nw.b, nw.ct FROM nw),\n"
    "  upd AS (UPDATE chatd_rooms SET last_seq = base + (SELECT count(*) FROM nw) WHERE id = p_room)\n"
    "  SELECT old.i, false, old.seq, old.id, old.ts_ms, old.body FROM old\n"
    "  UNION ALL SELECT nw.i, true, nw.seq, p_room || '-' || nw.seq, nw.ts, NULL::bytea FROM nw\n"
    "  UNION ALL SELECT todo.i, false, nw.seq, p_room || '-' || nw.seq, nw.ts, nw.b\n"
    "              FROM todo JOIN nw ON nw.i = todo.first WHERE todo.i <> todo.first;\n"
    "END\n"
    "$$;\n"
    "CREATE FUNCTION chatd_message_erased() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  NEW.content_type := NULL;\n"
    "  RETURN NEW;\n"
    "END\n"
    "$$;\n"
    "CREATE TRIGGER chatd_message_erased BEFORE UPDATE ON chatd_messages FOR EACH ROW\n"
    " WHEN (NEW.sender = '') EXECUTE FUNCTION chatd_message_erased();\n",
    /* 6: a message's kind (0 text, 1 file, 2 system) and the seq it
     * replies to (0: none), SDK 2.1: columns, the row type's last two
     * attributes, and append overloads that store them. An erase leaves
     * them (a tombstone's kind stays; reply_to is cleared by the trigger). */
    "ALTER TABLE chatd_messages ADD COLUMN kind smallint NOT NULL DEFAULT 0;\n"
    "ALTER TABLE chatd_messages ADD COLUMN reply_to bigint NOT NULL DEFAULT 0;\n"
    "ALTER TYPE chatd_room_t ADD ATTRIBUTE lm_kind smallint;\n"
    "ALTER TYPE chatd_room_t ADD ATTRIBUTE lm_reply_to bigint;\n"
    "CREATE OR REPLACE FUNCTION chatd_room_view(p_id text, p_user text) RETURNS SETOF chatd_room_t"
    " LANGUAGE sql STABLE AS $$\n"
    "  SELECT r.id, r.kind, r.state, r.title, r.owner, r.agent, r.created_ms, r.assigned_ms, r.last_seq,\n"
    "         ARRAY(SELECT m.user_id FROM chatd_members m WHERE m.room = r.id ORDER BY m.joined),\n"
    "         coalesce((SELECT k.seq FROM chatd_marks k WHERE k.room = r.id AND k.user_id = p_user), 0),\n"
    "         lm.id, lm.sender, lm.client_id, lm.ts_ms, lm.body,\n"
    "         ARRAY(SELECT m.user_id FROM chatd_members m WHERE m.room = r.id AND m.role = 2 ORDER BY m.joined),\n"
    "         r.closed_ms, lm.content_type, lm.kind, lm.reply_to\n"
    "    FROM chatd_rooms r\n"
    "    LEFT JOIN chatd_messages lm ON p_user IS NOT NULL AND lm.room = r.id AND lm.seq = r.last_seq\n"
    "   WHERE r.id = p_id\n"
    "$$;\n"
    "CREATE FUNCTION chatd_append(p_room text, p_sender text, p_client text, p_ts bigint, p_body bytea,"
    " p_ct text, p_kind smallint, p_reply bigint)"
    " RETURNS TABLE (o_done boolean, o_seq bigint, o_id text, o_ts_ms bigint, o_body bytea)"
    " LANGUAGE plpgsql AS $$\n"
    "DECLARE s bigint;\n"
    "BEGIN\n"
    "  IF p_client IS NOT NULL THEN\n"
    /* Lock before looking: then the look sees every append committed
     * before ours, and a retry never takes a seq of its own. */
    "    PERFORM 1 FROM chatd_rooms WHERE id = p_room FOR NO KEY UPDATE;\n"
    "    IF NOT FOUND THEN\n"
    "      RETURN;\n"
    "    END IF;\n"
    "    RETURN QUERY SELECT false, m.seq, m.id, m.ts_ms, m.body FROM chatd_messages m\n"
    "     WHERE m.room = p_room AND m.sender = p_sender AND m.client_id = p_client;\n"
    "    IF FOUND THEN\n"
    "      RETURN;\n"
    "    END IF;\n"
    "  END IF;\n"
    "  UPDATE chatd_rooms SET last_seq = last_seq + 1 WHERE id = p_room RETURNING last_seq INTO s;\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  INSERT INTO chatd_messages (room, seq, id, sender, client_id, ts_ms, body, content_type, kind, reply_to)\n"
    "  VALUES (p_room, s, p_room || '-' || s, p_sender, p_client, p_ts, p_body, p_ct, p_kind, p_reply);\n"
    "  RETURN QUERY SELECT true, s, p_room || '-' || s, p_ts, NULL::bytea;\n"
    "END\n"
    "$$;\n"
    "CREATE FUNCTION chatd_append_many(p_room text, p_senders text[], p_clients text[], p_ts bigint[],"
    " p_bodies bytea[], p_cts text[], p_kinds smallint[], p_replies bigint[])"
    " RETURNS TABLE (o_i integer, o_done boolean, o_seq bigint, o_id text, o_ts_ms bigint, o_body bytea)"
    " LANGUAGE plpgsql AS $$\n"
    "DECLARE base bigint;\n"
    "BEGIN\n"
    /* the lock first, as in chatd_append: the statement below then sees
     * every append committed before ours */
    "  SELECT r.last_seq INTO base FROM chatd_rooms r WHERE r.id = p_room FOR NO KEY UPDATE;\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  RETURN QUERY\n"
    "  WITH u AS (SELECT t.i::integer AS i, t.s, t.c, t.ts, t.b, t.ct, t.k, t.rp\n"
    "               FROM unnest(p_senders, p_clients, p_ts, p_bodies, p_cts, p_kinds, p_replies)"
    "               WITH ORDINALITY AS t(s, c, ts, b, ct, k, rp, i)),\n"
    /* one look-up in chatd_messages_client per message with a client id
     * (the LIMIT keeps the planner from making it a join that reads every
     * message of the room) */
    "  old AS (SELECT u.i, m.seq, m.id, m.ts_ms, m.body FROM u\n"
    "            CROSS JOIN LATERAL (SELECT x.seq, x.id, x.ts_ms, x.body FROM chatd_messages x\n"
    "                                 WHERE x.room = p_room AND x.sender = u.s AND x.client_id = u.c\n"
    "                                   AND x.client_id IS NOT NULL LIMIT 1) m),\n"
    "  todo AS (SELECT u.*, CASE WHEN u.c IS NULL THEN u.i ELSE min(u.i) OVER (PARTITION BY u.s, u.c) END AS first\n"
    "             FROM u WHERE u.i NOT IN (SELECT old.i FROM old)),\n"
    "  nw AS (SELECT todo.i, todo.s, todo.c, todo.ts, todo.b, todo.ct, todo.k, todo.rp,\n"
    "                base + row_number() OVER (ORDER BY todo.i) AS seq\n"
    "           FROM todo WHERE todo.i = todo.first),\n"
    "  ins AS (INSERT INTO chatd_messages (room, seq, id, sender, client_id, ts_ms, body, content_type, kind, reply_to)\n"
    "          SELECT p_room, nw.seq, p_room || '-' || nw.seq, nw.s, nw.c, nw.ts, nw.b, nw.ct, nw.k, nw.rp FROM nw),\n"
    "  upd AS (UPDATE chatd_rooms SET last_seq = base + (SELECT count(*) FROM nw) WHERE id = p_room)\n"
    "  SELECT old.i, false, old.seq, old.id, old.ts_ms, old.body FROM old\n"
    "  UNION ALL SELECT nw.i, true, nw.seq, p_room || '-' || nw.seq, nw.ts, NULL::bytea FROM nw\n"
    "  UNION ALL SELECT todo.i, false, nw.seq, p_room || '-' || nw.seq, nw.ts, nw.b\n"
    "              FROM todo JOIN nw ON nw.i = todo.first WHERE todo.i <> todo.first;\n"
    "END\n"
    "$$;\n"
    "CREATE OR REPLACE FUNCTION chatd_message_erased() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  NEW.content_type := NULL;\n"
    "  NEW.reply_to := 0;\n"
    "  RETURN NEW;\n"
    "END\n"
    "$$;\n",
    /* 7: edits and deletes (SDK 2.2): a room's revision counter, apart from
     * last_seq so that seqs stay dense and a change is no unread message;
     * a message's rev (0: never changed), when, and whether deleted. */
    "ALTER TABLE chatd_rooms ADD COLUMN last_rev bigint NOT NULL DEFAULT 0;\n"
    "ALTER TABLE chatd_messages ADD COLUMN rev bigint NOT NULL DEFAULT 0;\n"
    "ALTER TABLE chatd_messages ADD COLUMN edited_ms bigint NOT NULL DEFAULT 0;\n"
    "ALTER TABLE chatd_messages ADD COLUMN deleted boolean NOT NULL DEFAULT false;\n"
    "CREATE INDEX chatd_messages_rev ON chatd_messages (room, rev) WHERE rev > 0;\n"
    /* o_status: 0 changed, 1 deleted or erased already (the message as it
     * is); no row: no such message. The room's row lock orders the changes
     * of one room, so revs are taken in commit order. */
    "CREATE FUNCTION chatd_message_edit(p_room text, p_seq bigint, p_what smallint, p_body bytea, p_ct text,"
    " p_now bigint)"
    " RETURNS TABLE (o_status smallint, o_seq bigint, o_id text, o_sender text, o_client text, o_ts bigint,"
    " o_body bytea, o_ct text, o_kind smallint, o_reply bigint, o_rev bigint, o_edited bigint, o_deleted boolean)"
    " LANGUAGE plpgsql AS $$\n"
    "DECLARE r bigint; st smallint := 0;\n"
    "BEGIN\n"
    "  PERFORM 1 FROM chatd_rooms WHERE id = p_room FOR NO KEY UPDATE;\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  PERFORM 1 FROM chatd_messages x WHERE x.room = p_room AND x.seq = p_seq;\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  PERFORM 1 FROM chatd_messages x WHERE x.room = p_room AND x.seq = p_seq AND (x.deleted OR x.sender = '');\n"
    "  IF FOUND THEN\n"
    "    st := 1;\n"
    "  ELSE\n"
    "    UPDATE chatd_rooms SET last_rev = last_rev + 1 WHERE id = p_room RETURNING last_rev INTO r;\n"
    "    UPDATE chatd_messages x SET rev = r, edited_ms = p_now,\n"
    "           body = CASE WHEN p_what = 1 THEN p_body ELSE ''::bytea END,\n"
    "           content_type = CASE WHEN p_what = 1 THEN p_ct ELSE x.content_type END,\n"
    "           deleted = (p_what = 2)\n"
    "     WHERE x.room = p_room AND x.seq = p_seq;\n"
    "  END IF;\n"
    "  RETURN QUERY SELECT st, x.seq, x.id, x.sender, x.client_id, x.ts_ms, x.body, x.content_type, x.kind,"
    " x.reply_to, x.rev, x.edited_ms, x.deleted FROM chatd_messages x WHERE x.room = p_room AND x.seq = p_seq;\n"
    "END\n"
    "$$;\n",
    /* 8: the support desk (SDK 2.3). closed_ms of a COMPLETED room: when it
     * was completed (room_reopen's window). An agent's open rooms are
     * counted under a transaction-scoped advisory lock named after the
     * agent, so that two claims under a limit, from any instance, are
     * decided one after the other. o_status: a chatd_status; no row: no
     * such room. */
    "CREATE FUNCTION chatd_room_complete(p_id text, p_agent text, p_now bigint)"
    " RETURNS TABLE (o_done boolean, o_room chatd_room_t) LANGUAGE plpgsql AS $$\n"
    "DECLARE ok boolean;\n"
    "BEGIN\n"
    "  UPDATE chatd_rooms SET state = 3, unique_key = NULL, closed_ms = p_now\n"
    "   WHERE id = p_id AND agent = p_agent AND state = 2;\n"
    "  ok := FOUND;\n"
    "  RETURN QUERY SELECT ok, v FROM chatd_room_view(p_id, NULL) AS v;\n"
    "END\n"
    "$$;\n"
    "CREATE FUNCTION chatd_agent_lock(p_agent text) RETURNS void LANGUAGE sql AS $$\n"
    "  SELECT pg_advisory_xact_lock(hashtextextended('chatd_agent:' || p_agent, 0))\n"
    "$$;\n"
    "CREATE FUNCTION chatd_agent_open(p_agent text) RETURNS bigint LANGUAGE sql VOLATILE AS $$\n"
    "  SELECT count(*) FROM chatd_rooms WHERE agent = p_agent AND kind = 1 AND state = 2\n"
    "$$;\n"
    "CREATE FUNCTION chatd_room_claim_limited(p_id text, p_agent text, p_max bigint, p_now bigint)"
    " RETURNS TABLE (o_status smallint, o_room chatd_room_t) LANGUAGE plpgsql AS $$\n"
    "DECLARE k smallint; s smallint; st smallint := 0;\n"
    "BEGIN\n"
    "  PERFORM chatd_agent_lock(p_agent);\n"
    "  SELECT r.kind, r.state INTO k, s FROM chatd_rooms r WHERE r.id = p_id FOR NO KEY UPDATE;\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  IF k <> 1 OR s <> 1 THEN\n"
    "    st := 5;\n"
    "  ELSIF p_max > 0 AND chatd_agent_open(p_agent) >= p_max THEN\n"
    "    st := 11;\n"
    "  ELSE\n"
    "    UPDATE chatd_rooms SET state = 2, agent = p_agent, assigned_ms = p_now WHERE id = p_id;\n"
    "    INSERT INTO chatd_members (room, user_id) VALUES (p_id, p_agent) ON CONFLICT DO NOTHING;\n"
    "  END IF;\n"
    "  RETURN QUERY SELECT st, v FROM chatd_room_view(p_id, NULL) AS v;\n"
    "END\n"
    "$$;\n"
    "CREATE FUNCTION chatd_room_transfer(p_id text, p_from text, p_to text, p_now bigint)"
    " RETURNS TABLE (o_status smallint, o_room chatd_room_t) LANGUAGE plpgsql AS $$\n"
    "DECLARE k smallint; s smallint; a text; st smallint := 0;\n"
    "BEGIN\n"
    "  SELECT r.kind, r.state, r.agent INTO k, s, a FROM chatd_rooms r WHERE r.id = p_id FOR NO KEY UPDATE;\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  IF k <> 1 OR s <> 2 OR a IS DISTINCT FROM p_from THEN\n"
    "    st := 5;\n"
    "  ELSE\n"
    "    UPDATE chatd_rooms SET state = CASE WHEN p_to IS NULL THEN 1 ELSE 2 END, agent = p_to,\n"
    "           assigned_ms = CASE WHEN p_to IS NULL THEN 0 ELSE p_now END WHERE id = p_id;\n"
    "    IF p_to IS NULL OR p_to <> p_from THEN\n"
    "      DELETE FROM chatd_members WHERE room = p_id AND user_id = p_from;\n"
    "    END IF;\n"
    "    IF p_to IS NOT NULL THEN\n"
    "      INSERT INTO chatd_members (room, user_id) VALUES (p_id, p_to) ON CONFLICT DO NOTHING;\n"
    "    END IF;\n"
    "  END IF;\n"
    "  RETURN QUERY SELECT st, v FROM chatd_room_view(p_id, NULL) AS v;\n"
    "END\n"
    "$$;\n"
    "CREATE FUNCTION chatd_room_reopen(p_id text, p_key text, p_after bigint, p_agent text, p_max bigint,"
    " p_now bigint) RETURNS TABLE (o_status smallint, o_room chatd_room_t) LANGUAGE plpgsql AS $$\n"
    "DECLARE k smallint; s smallint; c bigint; other text; give boolean := false;\n"
    "BEGIN\n"
    "  IF p_agent IS NOT NULL THEN\n"
    "    PERFORM chatd_agent_lock(p_agent);\n"
    "  END IF;\n"
    "  SELECT r.kind, r.state, r.closed_ms INTO k, s, c FROM chatd_rooms r WHERE r.id = p_id FOR NO KEY UPDATE;\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  IF k <> 1 OR s <> 3 OR c < p_after THEN\n"
    "    RETURN QUERY SELECT 5::smallint, v FROM chatd_room_view(p_id, NULL) AS v;\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  IF p_key IS NOT NULL THEN\n"
    "    SELECT r.id INTO other FROM chatd_rooms r WHERE r.unique_key = p_key;\n"
    "    IF other IS NOT NULL THEN\n"
    "      RETURN QUERY SELECT 4::smallint, v FROM chatd_room_view(other, NULL) AS v;\n"
    "      RETURN;\n"
    "    END IF;\n"
    "  END IF;\n"
    "  IF p_agent IS NOT NULL THEN\n"
    "    give := p_max <= 0 OR chatd_agent_open(p_agent) < p_max;\n"
    "  END IF;\n"
    "  BEGIN\n"
    "    UPDATE chatd_rooms SET state = CASE WHEN give THEN 2 ELSE 1 END,\n"
    "           agent = CASE WHEN give THEN p_agent END, assigned_ms = CASE WHEN give THEN p_now ELSE 0 END,\n"
    "           closed_ms = 0, unique_key = p_key WHERE id = p_id;\n"
    "  EXCEPTION WHEN unique_violation THEN\n"
    /* the customer opened another room meanwhile */
    "    SELECT r.id INTO other FROM chatd_rooms r WHERE r.unique_key = p_key;\n"
    "    RETURN QUERY SELECT 4::smallint, v FROM chatd_room_view(coalesce(other, p_id), NULL) AS v;\n"
    "    RETURN;\n"
    "  END;\n"
    "  IF give THEN\n"
    "    INSERT INTO chatd_members (room, user_id) VALUES (p_id, p_agent) ON CONFLICT DO NOTHING;\n"
    "  END IF;\n"
    "  RETURN QUERY SELECT 0::smallint, v FROM chatd_room_view(p_id, NULL) AS v;\n"
    "END\n"
    "$$;\n",
    /* 9: reactions (SDK 2.5): one row per (message, emoji, user), emoji in
     * byte order (COLLATE "C"); they go with their message (and so with
     * every way a room goes). A change locks the message's row, so that the
     * bound on distinct emoji is decided one change after the other.
     * o_status: a chatd_status; the counts follow, or one row with a NULL
     * emoji when the message has none. An erase takes the user's reactions
     * in their rooms before the rest of it. */
    "CREATE TABLE chatd_reactions (room text NOT NULL, seq bigint NOT NULL, emoji text COLLATE \"C\" NOT NULL,"
    " user_id text NOT NULL, PRIMARY KEY (room, seq, emoji, user_id),"
    " FOREIGN KEY (room, seq) REFERENCES chatd_messages (room, seq) ON DELETE CASCADE);\n"
    "CREATE INDEX chatd_reactions_user ON chatd_reactions (user_id);\n"
    "CREATE FUNCTION chatd_reaction_change(p_room text, p_seq bigint, p_user text, p_emoji text, p_add boolean,"
    " p_max bigint) RETURNS TABLE (o_status smallint, o_emoji text, o_count bigint, o_me boolean)"
    " LANGUAGE plpgsql AS $$\n"
    "DECLARE d boolean; s text; st smallint := 0;\n"
    "BEGIN\n"
    "  SELECT x.deleted, x.sender INTO d, s FROM chatd_messages x WHERE x.room = p_room AND x.seq = p_seq"
    " FOR NO KEY UPDATE;\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN QUERY SELECT 3::smallint, NULL::text, 0::bigint, false;\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  IF d OR s = '' THEN\n"
    "    RETURN QUERY SELECT 5::smallint, NULL::text, 0::bigint, false;\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  IF p_add THEN\n"
    "    PERFORM 1 FROM chatd_reactions r WHERE r.room = p_room AND r.seq = p_seq AND r.emoji = p_emoji"
    " AND r.user_id = p_user;\n"
    "    IF FOUND THEN\n"
    "      st := 4;\n"
    "    ELSIF p_max > 0 AND NOT EXISTS (SELECT 1 FROM chatd_reactions r WHERE r.room = p_room AND r.seq = p_seq"
    " AND r.emoji = p_emoji) AND (SELECT count(DISTINCT r.emoji) FROM chatd_reactions r WHERE r.room = p_room"
    " AND r.seq = p_seq) >= p_max THEN\n"
    "      st := 11;\n"
    "    ELSE\n"
    "      INSERT INTO chatd_reactions (room, seq, emoji, user_id) VALUES (p_room, p_seq, p_emoji, p_user);\n"
    "    END IF;\n"
    "  ELSE\n"
    "    DELETE FROM chatd_reactions r WHERE r.room = p_room AND r.seq = p_seq AND r.emoji = p_emoji"
    " AND r.user_id = p_user;\n"
    "    IF NOT FOUND THEN\n"
    "      st := 4;\n"
    "    END IF;\n"
    "  END IF;\n"
    "  RETURN QUERY SELECT st, r.emoji::text, count(*), bool_or(r.user_id = p_user) FROM chatd_reactions r"
    " WHERE r.room = p_room AND r.seq = p_seq GROUP BY r.emoji ORDER BY r.emoji;\n"
    "  IF NOT FOUND THEN\n"
    "    RETURN QUERY SELECT st, NULL::text, 0::bigint, false;\n"
    "  END IF;\n"
    "END\n"
    "$$;\n"
    "ALTER FUNCTION chatd_user_erase(text) RENAME TO chatd_user_erase_8;\n"
    "CREATE FUNCTION chatd_user_erase(p_user text)"
    " RETURNS TABLE (o_rooms bigint, o_messages bigint, o_memberships bigint) LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  DELETE FROM chatd_reactions r USING chatd_members m"
    " WHERE r.user_id = p_user AND m.user_id = p_user AND m.room = r.room;\n"
    "  RETURN QUERY SELECT * FROM chatd_user_erase_8(p_user);\n"
    "END\n"
    "$$;\n",
    /* 10: the customer's rating of a support room (SDK 2.6), with the room
     * (the last three columns of chatd_room_t): 1..5, 0 unrated. The
     * UPDATE's WHERE, re-checked on the newest row version after waiting
     * for a concurrent rating, lets exactly one rating in. */
    "ALTER TABLE chatd_rooms ADD COLUMN rating smallint NOT NULL DEFAULT 0;\n"
    "ALTER TABLE chatd_rooms ADD COLUMN rating_comment text;\n"
    "ALTER TABLE chatd_rooms ADD COLUMN rated_ms bigint NOT NULL DEFAULT 0;\n"
    "ALTER TYPE chatd_room_t ADD ATTRIBUTE rating smallint;\n"
    "ALTER TYPE chatd_room_t ADD ATTRIBUTE rating_comment text;\n"
    "ALTER TYPE chatd_room_t ADD ATTRIBUTE rated_ms bigint;\n"
    "CREATE OR REPLACE FUNCTION chatd_room_view(p_id text, p_user text) RETURNS SETOF chatd_room_t"
    " LANGUAGE sql STABLE AS $$\n"
    "  SELECT r.id, r.kind, r.state, r.title, r.owner, r.agent, r.created_ms, r.assigned_ms, r.last_seq,\n"
    "         ARRAY(SELECT m.user_id FROM chatd_members m WHERE m.room = r.id ORDER BY m.joined),\n"
    "         coalesce((SELECT k.seq FROM chatd_marks k WHERE k.room = r.id AND k.user_id = p_user), 0),\n"
    "         lm.id, lm.sender, lm.client_id, lm.ts_ms, lm.body,\n"
    "         ARRAY(SELECT m.user_id FROM chatd_members m WHERE m.room = r.id AND m.role = 2 ORDER BY m.joined),\n"
    "         r.closed_ms, lm.content_type, lm.kind, lm.reply_to, r.rating, r.rating_comment, r.rated_ms\n"
    "    FROM chatd_rooms r\n"
    "    LEFT JOIN chatd_messages lm ON p_user IS NOT NULL AND lm.room = r.id AND lm.seq = r.last_seq\n"
    "   WHERE r.id = p_id\n"
    "$$;\n"
    "CREATE FUNCTION chatd_room_rate(p_id text, p_rating smallint, p_comment text, p_now bigint)"
    " RETURNS TABLE (o_done boolean, o_room chatd_room_t) LANGUAGE plpgsql AS $$\n"
    "DECLARE ok boolean;\n"
    "BEGIN\n"
    "  UPDATE chatd_rooms SET rating = p_rating, rating_comment = p_comment, rated_ms = p_now\n"
    "   WHERE id = p_id AND kind = 1 AND state IN (3, 4) AND rating = 0;\n"
    "  ok := FOUND;\n"
    "  RETURN QUERY SELECT ok, v FROM chatd_room_view(p_id, NULL) AS v;\n"
    "END\n"
    "$$;\n",
    /* 11: search (SDK 2.4). A body is bytes (chatd stores UTF-8, a plugin
     * keeps whatever it is handed), searched as encode(body, 'escape')
     * without its backslashes: ASCII as it is, each other byte as its three
     * octal digits. So ILIKE folds A-Z, nothing fails on bytes that are not
     * UTF-8, and a run of Korean (or any script) is one word of digits
     * whose trigrams span its bytes, whatever the database's locale makes
     * of the letters (in the C locale pg_trgm sees no Hangul at all). Each
     * byte maps to a fixed string, so a body that holds the query holds the
     * query's form too; the converse may fail (digits beside such a run),
     * which chatd's check of the text catches. With pg_trgm
     * (postgresql-contrib, a trusted extension) a GIN index of those
     * trigrams serves the LIKE; without it (not installed, or not ours to
     * create) search reads the rooms' messages (docs/storage.md). */
    "DO $$\n"
    "BEGIN\n"
    "  BEGIN\n"
    "    CREATE EXTENSION IF NOT EXISTS pg_trgm;\n"
    "  EXCEPTION WHEN OTHERS THEN\n"
    "    RAISE WARNING 'chatd: no pg_trgm (%): search scans the rooms'' messages', SQLERRM;\n"
    "  END;\n"
    "  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN\n"
    "    EXECUTE 'CREATE INDEX chatd_messages_text ON chatd_messages'\n"
    "            ' USING gin (replace(encode(body, ''escape''), chr(92), '''') gin_trgm_ops)'\n"
    "            ' WHERE NOT deleted';\n"
    "  END IF;\n"
    "END\n"
    "$$;\n",
    /* 12: canned replies (SDK 2.8), one per (desk, shortcut), shortcuts
     * ordered byte for byte (COLLATE "C"). A put takes a transaction-scoped
     * advisory lock named after the desk, so that its bound is counted
     * and the reply stored in one step from any instance. chatd_canned_put
     * answers 1 new, 0 replaced, -1 refused at the bound. */
    "CREATE TABLE chatd_canned (desk text NOT NULL, shortcut text COLLATE \"C\" NOT NULL, title text NOT NULL,"
    " body text NOT NULL, updated_by text NOT NULL, updated_ms bigint NOT NULL, PRIMARY KEY (desk, shortcut));\n"
    "CREATE FUNCTION chatd_canned_put(p_desk text, p_shortcut text, p_title text, p_body text, p_by text,"
    " p_ms bigint, p_max bigint) RETURNS smallint LANGUAGE plpgsql AS $$\n"
    "DECLARE fresh boolean;\n"
    "BEGIN\n"
    "  PERFORM pg_advisory_xact_lock(hashtextextended('chatd_canned:' || p_desk, 0));\n"
    "  IF p_max > 0 AND NOT EXISTS (SELECT 1 FROM chatd_canned WHERE desk = p_desk AND shortcut = p_shortcut)\n"
    "     AND (SELECT count(*) FROM chatd_canned WHERE desk = p_desk) >= p_max THEN\n"
    "    RETURN -1;\n"
    "  END IF;\n"
    "  INSERT INTO chatd_canned AS c (desk, shortcut, title, body, updated_by, updated_ms)\n"
    "       VALUES (p_desk, p_shortcut, p_title, p_body, p_by, p_ms)\n"
    "  ON CONFLICT (desk, shortcut) DO UPDATE SET title = excluded.title, body = excluded.body,\n"
    "     updated_by = excluded.updated_by, updated_ms = excluded.updated_ms\n"
    "  RETURNING (c.xmax = 0) INTO fresh;\n"
    "  RETURN CASE WHEN fresh THEN 1 ELSE 0 END;\n"
    "END\n"
    "$$;\n",
    /* 13: a support room's topic (SDK 2.12), the last column of
     * chatd_room_t; chatd_room_create gains it as its last argument (the
     * one of ten arguments stays, for a chatd of version 12 still
     * running). */
    "ALTER TABLE chatd_rooms ADD COLUMN topic text;\n"
    "ALTER TYPE chatd_room_t ADD ATTRIBUTE topic text;\n"
    "CREATE OR REPLACE FUNCTION chatd_room_view(p_id text, p_user text) RETURNS SETOF chatd_room_t"
    " LANGUAGE sql STABLE AS $$\n"
    "  SELECT r.id, r.kind, r.state, r.title, r.owner, r.agent, r.created_ms, r.assigned_ms, r.last_seq,\n"
    "         ARRAY(SELECT m.user_id FROM chatd_members m WHERE m.room = r.id ORDER BY m.joined),\n"
    "         coalesce((SELECT k.seq FROM chatd_marks k WHERE k.room = r.id AND k.user_id = p_user), 0),\n"
    "         lm.id, lm.sender, lm.client_id, lm.ts_ms, lm.body,\n"
    "         ARRAY(SELECT m.user_id FROM chatd_members m WHERE m.room = r.id AND m.role = 2 ORDER BY m.joined),\n"
    "         r.closed_ms, lm.content_type, lm.kind, lm.reply_to, r.rating, r.rating_comment, r.rated_ms,\n"
    "         r.topic\n"
    "    FROM chatd_rooms r\n"
    "    LEFT JOIN chatd_messages lm ON p_user IS NOT NULL AND lm.room = r.id AND lm.seq = r.last_seq\n"
    "   WHERE r.id = p_id\n"
    "$$;\n"
    "CREATE FUNCTION chatd_room_create(p_id text, p_kind smallint, p_state smallint, p_title text,"
    " p_owner text, p_agent text, p_created bigint, p_assigned bigint, p_key text, p_members text[], p_topic text)"
    " RETURNS TABLE (o_done boolean, o_room chatd_room_t) LANGUAGE plpgsql AS $$\n"
    "DECLARE other text;\n"
    "BEGIN\n"
    "  LOOP\n"
    "    INSERT INTO chatd_rooms (id, kind, state, title, owner, agent, created_ms, assigned_ms, unique_key, topic)\n"
    "    VALUES (p_id, p_kind, p_state, p_title, p_owner, p_agent, p_created, p_assigned, p_key, p_topic)\n"
    "    ON CONFLICT DO NOTHING;\n"
    "    IF FOUND THEN\n"
    "      INSERT INTO chatd_members (room, user_id) SELECT p_id, u FROM unnest(p_members) AS u\n"
    "      ON CONFLICT DO NOTHING;\n"
    "      RETURN QUERY SELECT true, v FROM chatd_room_view(p_id, NULL) AS v;\n"
    "      RETURN;\n"
    "    END IF;\n"
    "    SELECT r.id INTO other FROM chatd_rooms r WHERE r.unique_key = p_key;\n"
    "    IF other IS NULL THEN\n"
    "      SELECT r.id INTO other FROM chatd_rooms r WHERE r.id = p_id;\n"
    "    END IF;\n"
    "    IF other IS NOT NULL THEN\n"
    "      RETURN QUERY SELECT false, v FROM chatd_room_view(other, NULL) AS v;\n"
    "      RETURN;\n"
    "    END IF;\n"
    "  END LOOP;\n"
    "END\n"
    "$$;\n",
};

/* The statements of the ops. Room rows come back as the 25 columns of
 * chatd_room_t; "done" says whether the action happened. */
#define ROOM_ACTION(fn) "SELECT c.o_done, (c.o_room).* FROM " fn " c"
static const char SQL_CREATE[] =
    ROOM_ACTION("chatd_room_create($1, $2::smallint, $3::smallint, $4, $5, $6, $7::bigint, $8::bigint, $9, $10::text[],"
                " $11::text)");
static const char SQL_GET[] = "SELECT * FROM chatd_room_view($1, $2)";
static const char SQL_CLAIM[] = ROOM_ACTION("chatd_room_claim($1, $2, $3::bigint)");
static const char SQL_COMPLETE[] = ROOM_ACTION("chatd_room_complete($1, $2, $3::bigint)");
#define ROOM_STATUS(fn) "SELECT c.o_status, (c.o_room).* FROM " fn " c"
static const char SQL_CLAIM_LIMITED[] = ROOM_STATUS("chatd_room_claim_limited($1, $2, $3::bigint, $4::bigint)");
static const char SQL_TRANSFER[] = ROOM_STATUS("chatd_room_transfer($1, $2, $3, $4::bigint)");
static const char SQL_REOPEN[] =
    ROOM_STATUS("chatd_room_reopen($1, $2, $3::bigint, $4, $5::bigint, $6::bigint)");
static const char SQL_RATE[] = ROOM_ACTION("chatd_room_rate($1, $2::smallint, $3, $4::bigint)");
static const char SQL_DELETE[] = "SELECT chatd_room_delete($1)";
static const char SQL_GROUP[] = "SELECT c.o_status, (c.o_room).* FROM chatd_group_change($1, $2::smallint, $3,"
                                " $4::smallint, $5, $6, $7::smallint, $8::boolean) c";
static const char SQL_CLOSE[] = ROOM_ACTION("chatd_room_close($1, $2::bigint)");
static const char SQL_PURGE[] = "SELECT chatd_rooms_purge($1::bigint, $2::integer)";
/* As chatd_rooms_purge, in one statement that names the rooms removed
 * (SDK 2.11); a message's reactions go with it (ON DELETE CASCADE). */
static const char SQL_PURGE_IDS[] =
    "WITH ids AS (SELECT r.id FROM chatd_rooms r WHERE r.kind = 1 AND r.state = 4 AND r.closed_ms < $1::bigint"
    "  ORDER BY r.closed_ms LIMIT $2::integer FOR UPDATE SKIP LOCKED),"
    " m AS (DELETE FROM chatd_messages WHERE room IN (SELECT id FROM ids)),"
    " b AS (DELETE FROM chatd_members WHERE room IN (SELECT id FROM ids)),"
    " k AS (DELETE FROM chatd_marks WHERE room IN (SELECT id FROM ids))"
    " DELETE FROM chatd_rooms WHERE id IN (SELECT id FROM ids) RETURNING id";
static const char SQL_ERASE[] = "SELECT * FROM chatd_user_erase($1)";
/* KEY SHARE: waits for a delete of the room, not for appends to it. */
static const char SQL_MEMBER_ADD[] =
    "WITH r AS (SELECT id FROM chatd_rooms WHERE id = $1 FOR KEY SHARE),"
    " a AS (INSERT INTO chatd_members (room, user_id) SELECT r.id, $2 FROM r ON CONFLICT DO NOTHING)"
    " SELECT count(*) FROM r";
static const char SQL_MEMBER_REMOVE[] =
    "WITH r AS (SELECT id FROM chatd_rooms WHERE id = $1 FOR KEY SHARE),"
    " d AS (DELETE FROM chatd_members m USING r WHERE m.room = r.id AND m.user_id = $2)"
    " SELECT count(*) FROM r";
/* A mark past the newest message would make a negative unread count later. */
static const char SQL_MARK[] =
    "WITH r AS (SELECT id, last_seq FROM chatd_rooms WHERE id = $1 FOR KEY SHARE),"
    " u AS (INSERT INTO chatd_marks AS k (room, user_id, seq) SELECT r.id, $2, least($3::bigint, r.last_seq) FROM r"
    " ON CONFLICT (room, user_id) DO UPDATE SET seq = greatest(k.seq, excluded.seq))"
    " SELECT count(*) FROM r";
static const char SQL_APPEND[] =
    "SELECT * FROM chatd_append($1, $2, $3, $4::bigint, $5::bytea, $6, $7::smallint, $8::bigint)";
static const char SQL_APPEND_MANY[] =
    "SELECT * FROM chatd_append_many($1, $2::text[], $3::text[], $4::bigint[], $5::bytea[], $6::text[],"
    " $7::smallint[], $8::bigint[])";
/* One row with NULLs for a room without messages, none for no room. The
 * last column is the reactions hint: false (none) when the page's span of
 * seqs has no reaction at all, as one probe of chatd_reactions' primary
 * key (room, seq, ...) finds; else NULL (not known): a probe per message
 * would make the page several times slower for a page that has some.
 * seq is gap-free, so the page before $2 spans the $3 seqs below the
 * lesser of $2 and last_seq + 1, the page after $2 the $3 above it;
 * row_span and probe_span bound its far end, the latter without r so that
 * its probe runs once a statement (a message outside the span, were there
 * one, would be NULL). */
#define HISTORY(cmp, order, row_span, probe_span)                                                        \
    "SELECT m.seq, m.id, m.sender, m.client_id, m.ts_ms, m.body, m.content_type, m.kind, m.reply_to,"    \
    " m.rev, m.edited_ms, m.deleted, m.reacted"                                                         \
    " FROM chatd_rooms r"                                                                               \
    " LEFT JOIN LATERAL (SELECT x.seq, x.id, x.sender, x.client_id, x.ts_ms, x.body, x.content_type,"     \
    " x.kind, x.reply_to, x.rev, x.edited_ms, x.deleted,"                                               \
    " CASE WHEN x.seq " row_span " AND NOT EXISTS (SELECT 1 FROM chatd_reactions g WHERE g.room = $1"    \
    " AND g.seq " cmp " $2::bigint AND g.seq " probe_span ") THEN false END AS reacted"                 \
    " FROM chatd_messages x"                                                                            \
    " WHERE x.room = r.id AND x.seq " cmp " $2::bigint ORDER BY x.seq " order " LIMIT $3::bigint) m ON true" \
    " WHERE r.id = $1"
#define BEFORE_SPAN(last_seq) ">= least($2::bigint, " last_seq " + 1) - $3::bigint"
#define AFTER_SPAN "<= $2::bigint + least($3::bigint, 9223372036854775807 - $2::bigint)"
static const char SQL_BEFORE[] = HISTORY("<", "DESC", BEFORE_SPAN("r.last_seq"),
                                         BEFORE_SPAN("(SELECT k.last_seq FROM chatd_rooms k WHERE k.id = $1)"));
static const char SQL_AFTER[] = HISTORY(">", "ASC", AFTER_SPAN, AFTER_SPAN);
/* HISTORY's columns but the hint; no row for no room or no change. */
static const char SQL_REVISIONS[] =
    "SELECT x.seq, x.id, x.sender, x.client_id, x.ts_ms, x.body, x.content_type, x.kind, x.reply_to, x.rev,"
    " x.edited_ms, x.deleted FROM chatd_messages x WHERE x.room = $1 AND x.rev > $2::bigint"
    " ORDER BY x.rev LIMIT $3::bigint";
/* Newest first by (ts_ms, room, seq), rooms compared bytewise ("C"); the
 * columns of HISTORY's after the room. $2 and $7: LIKE patterns of the
 * query and of its JSON form, in the form the index gives a body (11). */
static const char SQL_SEARCH[] =
    "SELECT x.room, x.seq, x.id, x.sender, x.client_id, x.ts_ms, x.body, x.content_type, x.kind, x.reply_to,"
    " x.rev, x.edited_ms, x.deleted FROM chatd_messages x"
    " WHERE x.room = ANY($1::text[]) AND NOT x.deleted AND x.sender <> ''"
    " AND (replace(encode(x.body, 'escape'), chr(92), '') ILIKE $2"
    " OR ($7::text IS NOT NULL AND replace(encode(x.body, 'escape'), chr(92), '') ILIKE $7))"
    " AND ($3::text IS NULL OR x.ts_ms < $4::bigint OR (x.ts_ms = $4::bigint AND (x.room COLLATE \"C\" < $3"
    " OR (x.room = $3 AND x.seq < $5::bigint))))"
    " ORDER BY x.ts_ms DESC, x.room COLLATE \"C\" DESC, x.seq DESC LIMIT $6::bigint";
static const char SQL_CANNED_PUT[] = "SELECT chatd_canned_put($1, $2, $3, $4, $5, $6::bigint, $7::bigint)";
static const char SQL_CANNED_DELETE[] =
    "WITH d AS (DELETE FROM chatd_canned WHERE desk = $1 AND shortcut = $2 RETURNING 1) SELECT count(*) FROM d";
static const char SQL_CANNED_LIST[] = "SELECT desk, shortcut, title, body, updated_by, updated_ms FROM chatd_canned"
                                      " WHERE desk = $1 ORDER BY shortcut LIMIT $2::bigint";
static const char SQL_EDIT[] =
    "SELECT * FROM chatd_message_edit($1, $2::bigint, $3::smallint, $4::bytea, $5, $6::bigint)";
static const char SQL_REACT[] =
    "SELECT * FROM chatd_reaction_change($1, $2::bigint, $3, $4, $5::boolean, $6::bigint)";
static const char SQL_REACTIONS[] =
    "SELECT r.seq, r.emoji, count(*), coalesce(bool_or(r.user_id = $3), false) FROM chatd_reactions r"
    " WHERE r.room = $1 AND r.seq = ANY($2::bigint[]) GROUP BY r.seq, r.emoji ORDER BY r.seq, r.emoji";
/* Sorted, so that instances lock rooms in one global order. */
static const char SQL_PRELOCK[] = "SELECT 1 FROM chatd_rooms WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE";
/* Whatever the server's default, the functions rely on a fresh snapshot per
 * statement once a row lock is granted. */
static const char SQL_BEGIN[] = "BEGIN ISOLATION LEVEL READ COMMITTED";

/* The fixed statements are prepared once per connection (right after the
 * migration), so that an operation costs an execution, not a parse and a
 * plan as well: planning was most of the server's time per operation. */
static const struct {
    const char *name;
    const char *sql;
} PREPARED[] = {
    {"chatd_create", SQL_CREATE},   {"chatd_get", SQL_GET},         {"chatd_claim", SQL_CLAIM},
    {"chatd_complete", SQL_COMPLETE}, {"chatd_delete", SQL_DELETE}, {"chatd_member_add", SQL_MEMBER_ADD},
    {"chatd_member_remove", SQL_MEMBER_REMOVE}, {"chatd_mark", SQL_MARK}, {"chatd_append", SQL_APPEND},
    {"chatd_append_many", SQL_APPEND_MANY},
    {"chatd_before", SQL_BEFORE},   {"chatd_after", SQL_AFTER},     {"chatd_prelock", SQL_PRELOCK},
    {"chatd_group", SQL_GROUP},
    {"chatd_close", SQL_CLOSE},     {"chatd_purge", SQL_PURGE},     {"chatd_erase", SQL_ERASE},
    {"chatd_purge_ids", SQL_PURGE_IDS},
    {"chatd_revisions", SQL_REVISIONS}, {"chatd_edit", SQL_EDIT},
    {"chatd_claim_limited", SQL_CLAIM_LIMITED}, {"chatd_transfer", SQL_TRANSFER}, {"chatd_reopen", SQL_REOPEN},
    {"chatd_react", SQL_REACT},     {"chatd_reactions", SQL_REACTIONS},
    {"chatd_rate", SQL_RATE},
    {"chatd_search", SQL_SEARCH},
    {"chatd_canned_put", SQL_CANNED_PUT}, {"chatd_canned_delete", SQL_CANNED_DELETE},
    {"chatd_canned_list", SQL_CANNED_LIST},
};

static const char *prepared_name(const char *sql)
{
    for (size_t i = 0; i < sizeof PREPARED / sizeof *PREPARED; i++)
        if (PREPARED[i].sql == sql)
            return PREPARED[i].name;
    return NULL;
}

/* ------------------------------------------------------------ the ops */

struct block {
    struct block *next;
    size_t used, cap;
    char data[];
};


struct pgstore;

struct op {
    struct op *next;
    struct pgstore *st;
    enum op_kind kind;
    void *cb;
    void *ctx;
    struct block *args; /* copies of the arguments */
    struct block *ans;  /* the answer's own memory; dropped when the op runs again */
    PGresult *res;      /* the answer's strings point into it */
    PGresult *room_res; /* room_page: its room's result, as res is its page's */
    bool with_room;     /* OP_HISTORY for room_page: the room, then the page */
    struct op *room_of; /* a room page's statement whose room it shares (see share_rooms) */
    bool oom;
    int tries;
    const char *route;  /* the room it is about: routing and locking; NULL for lists */
    bool locks;         /* writes to `route` */
    struct op *gnext;   /* the next op answered by the same statement (see group_batch) */
    struct op *gtail;   /* on a statement's first op: its last */
    /* arguments */
    struct chatd_room room_arg;
    const char *id, *user, *key, *array, *sql;
    struct chatd_room_filter filter;
    struct chatd_message msg_arg;
    struct chatd_group_change change;
    struct chatd_message_edit edit;
    uint64_t before, after, seq;
    size_t limit;
    int64_t now;
    const char *to;   /* room_transfer: the new agent, NULL: the queue */
    int64_t after_ms; /* room_reopen: completed at or after */
    struct chatd_reaction_change react;
    const char *seqs; /* reaction_list: the seqs as an array literal */
    /* answer */
    chatd_status status;
    struct chatd_room *rooms;
    struct chatd_message *msgs;
    size_t n;
    struct chatd_erase_result erased;
    struct chatd_reaction_count *counts;
    size_t ncounts;
    struct chatd_canned_reply canned;   /* canned_put's argument */
    struct chatd_canned_reply *replies; /* canned_list's answer */
    const char **ids;                   /* room_purge_ids' answer */
};

enum conn_state { C_DOWN, C_RESOLVING, C_CONNECTING, C_MIGRATING, C_READY };

struct lookup;

struct conn {
    struct pgstore *st;
    unsigned index;
    enum conn_state state;
    PGconn *pg;
    struct event *io;    /* socket: one-shot while connecting, then persistent read */
    struct event *wr;    /* socket writable while libpq holds unsent output */
    struct event *timer; /* reconnect backoff, or the connect deadline */
    struct event *tick;  /* polls a host name lookup */
    struct event *kick;  /* sends queued ops from the loop, never inside an op's call */
    unsigned backoff_ms;
    unsigned failures;   /* attempts failed in a row */
    struct lookup *lookup;
    struct op *qhead, *qtail; /* routed here, not sent yet */
    size_t nq;                /* how many */
    /* the batch in flight */
    struct op **batch;
    size_t nbatch, cap;
    struct op **stmt;    /* its statements, each the first op of its group */
    size_t nstmt;        /* room for 2 * cap: see group_batch */
    size_t nres;         /* the results of those (see results_of) */
    size_t at, part;     /* the statement the next of them answers, and which of its results */
    bool nomerge;        /* one statement per op: the last batch failed */
    size_t pre;          /* internal statements before the ops */
    size_t got;          /* results seen */
    bool busy, committed, need_rollback;
    bool tx;             /* the batch runs in BEGIN ... COMMIT (it writes) */
    long err_item;       /* result index of the first error; -1: none */
    long err_stmt;       /* the statement that gave it; -1: none of them */
    char err_state[6];
    char err_text[256];
    /* migration */
    int mig_step;
    int version;
};

struct pgstore {
    const struct chatd_host *host;
    char *conninfo;
    char **hosts;        /* conninfo's host list, when some entry needs a name lookup */
    char **ports;        /* its port list, when there is one port per host */
    size_t nhosts;
    struct conn *conns;
    size_t nconns;
    unsigned rr;
    long connect_timeout_ms;
    size_t max_pending;
    size_t pending;      /* accepted, not yet answered */
    struct op *whead, *wtail; /* waiting for a first connection */
    bool ready;
    bool schema_warned;
    unsigned posted;     /* answers handed to host->post, not run yet */
    bool dead;           /* fini ran while answers were posted */
};

static void *arena(struct op *o, struct block **list, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!*list || (*list)->cap - (*list)->used < n) {
        size_t cap = n > 2048 ? n : 2048;
        struct block *b = malloc(sizeof *b + cap);
        if (!b) {
            o->oom = true;
            return NULL;
        }
        b->next = *list;
        b->used = 0;
        b->cap = cap;
        *list = b;
    }
    void *p = (*list)->data + (*list)->used;
    (*list)->used += n;
    return p;
}

static const char *copy_str(struct op *o, struct block **list, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = arena(o, list, n);
    return d ? memcpy(d, s, n) : NULL;
}

static const char *astr(struct op *o, const char *s)
{
    return copy_str(o, &o->args, s);
}

static void blocks_free(struct block *b)
{
    for (struct block *next; b; b = next) {
        next = b->next;
        free(b);
    }
}

static void answer_reset(struct op *o)
{
    PQclear(o->res);
    o->res = NULL;
    PQclear(o->room_res);
    o->room_res = NULL;
    blocks_free(o->ans);
    o->ans = NULL;
    o->rooms = NULL;
    o->msgs = NULL;
    o->n = 0;
    o->erased = (struct chatd_erase_result){.size = sizeof o->erased};
    o->status = CHATD_OK;
}

static void op_free(struct op *o)
{
    answer_reset(o);
    blocks_free(o->args);
    free(o);
}

/* A text[] literal of v, for ANY() and unnest(). */
static char *text_array(struct op *o, struct block **list, const char *const *v, size_t n)
{
    size_t len = 3;
    for (size_t i = 0; i < n; i++)
        len += 2 * strlen(v[i]) + 3;
    char *out = o ? arena(o, list, len) : malloc(len);
    if (!out)
        return NULL;
    char *w = out;
    *w++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = ',';
        *w++ = '"';
        for (const char *s = v[i]; *s; s++) {
            if (*s == '"' || *s == '\\')
                *w++ = '\\';
            *w++ = *s;
        }
        *w++ = '"';
    }
    *w++ = '}';
    *w = '\0';
    return out;
}

/* ---------------------------------------------------------- answering */

static void op_answer(struct op *o, chatd_status s)
{
    if (o->kind == OP_ERASE)
        storage_op_answer_erase(o->cb, o->ctx, o->oom ? CHATD_ERR_NOMEM : s, &o->erased);
    else if (o->kind == OP_REACT || o->kind == OP_REACTIONS)
        storage_op_answer_reactions(o->cb, o->ctx, o->oom ? CHATD_ERR_NOMEM : s, o->counts, o->ncounts);
    else if (o->kind == OP_CANNED_LIST)
        storage_op_answer_canned(o->cb, o->ctx, o->oom ? CHATD_ERR_NOMEM : s, o->replies, o->n);
    else if (o->kind == OP_PURGE_IDS)
        storage_op_answer_ids(o->cb, o->ctx, o->oom ? CHATD_ERR_NOMEM : s, o->ids, o->n);
    else if (o->with_room) /* room_page */
        storage_op_answer_room_page(o->cb, o->ctx, o->oom ? CHATD_ERR_NOMEM : s, o->rooms, o->msgs, o->n);
    else
        storage_op_answer(o->kind, o->cb, o->ctx, o->oom ? CHATD_ERR_NOMEM : s, o->rooms, o->msgs, o->n);
}

/* Answer now: only from a loop callback, never inside the op's own call. */
static void op_finish(struct op *o, chatd_status s)
{
    struct pgstore *st = o->st;
    op_answer(o, s);
    st->pending--;
    op_free(o);
}

static void store_free(struct pgstore *st);

static void posted_finish(void *arg)
{
    struct op *o = arg;
    struct pgstore *st = o->st;
    st->posted--;
    if (st->dead) {
        /* a host that runs posted tasks after fini: nobody expects the answer */
        op_free(o);
        if (!st->posted)
            store_free(st);
        return;
    }
    op_finish(o, o->status);
}

/* Answer through host->post: safe inside the op's call. */
static void finish_later(struct op *o, chatd_status s)
{
    struct pgstore *st = o->st;
    o->status = s;
    st->posted++;
    if (st->host->post(st->host, posted_finish, o) != CHATD_OK) {
        st->posted--;
        st->pending--;
        op_free(o); /* shutting down: nobody waits for it */
    }
}

/* ------------------------------------------------------ reading answers */

static const char *val(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static int64_t val_i64(PGresult *r, int row, int col)
{
    const char *v = val(r, row, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

static bool val_true(PGresult *r, int row, int col)
{
    const char *v = val(r, row, col);
    return v && v[0] == 't';
}

/* bytea in whichever output format the server uses. */
static void val_bytes(struct op *o, PGresult *r, int row, int col, const char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    const char *v = val(r, row, col);
    if (!v)
        return;
    size_t n = 0;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)v, &n);
    char *copy = raw ? arena(o, &o->ans, n + 1) : NULL;
    if (!raw)
        o->oom = true;
    if (copy) {
        memcpy(copy, raw, n);
        copy[n] = '\0';
        *out = copy;
        *len = n;
    }
    PQfreemem(raw);
}

/* A one-dimensional text[] in its output syntax: {a,"b c","d\"e"}. */
static bool parse_members(struct op *o, const char *s, const char *const **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!s || *s != '{')
        return false;
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    const char **v = arena(o, &o->ans, cap * sizeof *v);
    char *w = arena(o, &o->ans, strlen(s) + 1);
    if (!v || !w)
        return false;
    s++;
    size_t k = 0;
    while (*s && *s != '}' && k < cap) {
        const char *start = w;
        if (*s == '"') {
            for (s++; *s && *s != '"'; s++) {
                if (*s == '\\' && s[1])
                    s++;
                *w++ = *s;
            }
            if (*s != '"')
                return false;
            s++;
        } else {
            while (*s && *s != ',' && *s != '}')
                *w++ = *s++;
        }
        *w++ = '\0';
        v[k++] = start;
        if (*s == ',')
            s++;
    }
    if (*s != '}')
        return false;
    *out = v;
    *n = k;
    return true;
}

/* Columns c0.. of row as a chatd_room_t. */
static void read_room(struct op *o, PGresult *r, int row, int c0, struct chatd_room *room)
{
    memset(room, 0, sizeof *room);
    room->size = sizeof *room;
    room->id = val(r, row, c0);
    room->kind = (chatd_room_kind)val_i64(r, row, c0 + 1);
    room->state = (chatd_room_state)val_i64(r, row, c0 + 2);
    room->title = val(r, row, c0 + 3);
    room->owner = val(r, row, c0 + 4);
    room->agent = val(r, row, c0 + 5);
    room->created_ms = val_i64(r, row, c0 + 6);
    room->assigned_ms = val_i64(r, row, c0 + 7);
    room->last_seq = (uint64_t)val_i64(r, row, c0 + 8);
    if (!parse_members(o, val(r, row, c0 + 9), &room->members, &room->nmembers) && !o->oom)
        o->status = CHATD_ERR_INTERNAL;
    room->read_seq = (uint64_t)val_i64(r, row, c0 + 10);
    if (!parse_members(o, val(r, row, c0 + 16), &room->admins, &room->nadmins) && !o->oom)
        o->status = CHATD_ERR_INTERNAL;
    room->closed_ms = val_i64(r, row, c0 + 17);
    room->rating = (uint32_t)val_i64(r, row, c0 + 21);
    room->rating_comment = val(r, row, c0 + 22);
    room->rated_ms = val_i64(r, row, c0 + 23);
    room->topic = val(r, row, c0 + 24);
    if (val(r, row, c0 + 11)) {
        struct chatd_message *m = arena(o, &o->ans, sizeof *m);
        if (m) {
            memset(m, 0, sizeof *m);
            m->size = sizeof *m;
            m->room = room->id;
            m->seq = room->last_seq;
            m->id = val(r, row, c0 + 11);
            m->sender = val(r, row, c0 + 12);
            m->client_id = val(r, row, c0 + 13);
            m->ts_ms = val_i64(r, row, c0 + 14);
            val_bytes(o, r, row, c0 + 15, &m->body, &m->body_len);
            m->content_type = val(r, row, c0 + 18);
            m->kind = (chatd_message_kind)val_i64(r, row, c0 + 19);
            m->reply_to = (uint64_t)val_i64(r, row, c0 + 20);
            room->last_message = m;
        }
    }
}

#define ROOM_COLS 25

/* Turn an op's result rows into its answer; o keeps r. */
/* Row i of r from column c0 on: seq, id, sender, client_id, ts_ms, body,
 * content_type, kind, reply_to, rev, edited_ms, deleted. */
static void read_message(struct op *o, PGresult *r, int i, int c0, struct chatd_message *m)
{
    memset(m, 0, sizeof *m);
    m->size = sizeof *m;
    m->room = o->id;
    m->seq = (uint64_t)val_i64(r, i, c0);
    m->id = val(r, i, c0 + 1);
    m->sender = val(r, i, c0 + 2);
    m->client_id = val(r, i, c0 + 3);
    m->ts_ms = val_i64(r, i, c0 + 4);
    val_bytes(o, r, i, c0 + 5, &m->body, &m->body_len);
    m->content_type = val(r, i, c0 + 6);
    m->kind = (chatd_message_kind)val_i64(r, i, c0 + 7);
    m->reply_to = (uint64_t)val_i64(r, i, c0 + 8);
    m->rev = (uint64_t)val_i64(r, i, c0 + 9);
    m->edited_ms = val_i64(r, i, c0 + 10);
    m->deleted = val_true(r, i, c0 + 11);
}

/* r as the answer of an op of that kind. */
static void read_result(struct op *o, PGresult *r, enum op_kind kind)
{
    o->res = r;
    o->status = CHATD_OK;
    int rows = PQntuples(r), cols = PQnfields(r);
    switch (kind) {
    case OP_CREATE: case OP_CLAIM: case OP_COMPLETE: case OP_GET: case OP_CLOSE: case OP_RATE: {
        int c0 = kind == OP_GET ? 0 : 1;
        if (cols != c0 + ROOM_COLS) {
            o->status = CHATD_ERR_INTERNAL;
            return;
        }
        if (rows == 0) {
            o->status = kind == OP_CREATE ? CHATD_ERR_INTERNAL : CHATD_ERR_NOT_FOUND;
            return;
        }
        o->rooms = arena(o, &o->ans, sizeof *o->rooms);
        if (!o->rooms)
            return;
        if (c0 && !val_true(r, 0, 0))
            o->status = kind == OP_CREATE ? CHATD_ERR_EXISTS : CHATD_ERR_CONFLICT;
        read_room(o, r, 0, c0, o->rooms);
        o->n = 1;
        return;
    }
    case OP_LIST:
        if (cols != ROOM_COLS) {
            o->status = CHATD_ERR_INTERNAL;
            return;
        }
        o->rooms = rows ? arena(o, &o->ans, (size_t)rows * sizeof *o->rooms) : NULL;
        for (int i = 0; i < rows && o->rooms; i++)
            read_room(o, r, i, 0, &o->rooms[o->n++]);
        return;
    case OP_GROUP: case OP_CLAIM_LIMITED: case OP_TRANSFER: case OP_REOPEN:
        if (cols != 1 + ROOM_COLS) {
            o->status = CHATD_ERR_INTERNAL;
            return;
        }
        if (rows == 0) {
            o->status = CHATD_ERR_NOT_FOUND;
            return;
        }
        o->rooms = arena(o, &o->ans, sizeof *o->rooms);
        if (!o->rooms)
            return;
        read_room(o, r, 0, 1, o->rooms);
        if (o->status == CHATD_OK)
            o->status = (chatd_status)val_i64(r, 0, 0);
        o->n = 1;
        return;
    case OP_DELETE:
        o->status = rows == 1 && val_true(r, 0, 0) ? CHATD_OK : CHATD_ERR_NOT_FOUND;
        return;
    case OP_MEMBER_ADD: case OP_MEMBER_REMOVE: case OP_MARK:
        o->status = rows == 1 && val_i64(r, 0, 0) > 0 ? CHATD_OK : CHATD_ERR_NOT_FOUND;
        return;
    case OP_PURGE:
        if (rows != 1 || cols != 1) {
            o->status = CHATD_ERR_INTERNAL;
            return;
        }
        o->n = (size_t)val_i64(r, 0, 0);
        return;
    case OP_PURGE_IDS: /* the ids stay in o->res until the op is freed */
        if (cols != 1) {
            o->status = CHATD_ERR_INTERNAL;
            return;
        }
        o->ids = rows ? arena(o, &o->ans, (size_t)rows * sizeof *o->ids) : NULL;
        for (int i = 0; i < rows && o->ids; i++)
            o->ids[o->n++] = val(r, i, 0);
        return;
    case OP_ERASE:
        if (rows != 1 || cols != 3) {
            o->status = CHATD_ERR_INTERNAL;
            return;
        }
        o->erased = (struct chatd_erase_result){sizeof o->erased, (uint64_t)val_i64(r, 0, 0),
                                                (uint64_t)val_i64(r, 0, 1), (uint64_t)val_i64(r, 0, 2)};
        return;
    case OP_APPEND: {
        if (rows == 0) {
            o->status = CHATD_ERR_NOT_FOUND;
            return;
        }
        struct chatd_message *m = o->msgs = arena(o, &o->ans, sizeof *m);
        if (!m)
            return;
        *m = o->msg_arg;
        m->size = sizeof *m; /* the answer is ours, not the host's struct */
        m->seq = (uint64_t)val_i64(r, 0, 1);
        m->id = val(r, 0, 2);
        if (!val_true(r, 0, 0)) {
            /* the retry of a stored message: answer with what was stored */
            o->status = CHATD_ERR_EXISTS;
            m->ts_ms = val_i64(r, 0, 3);
            val_bytes(o, r, 0, 4, &m->body, &m->body_len);
        }
        o->n = 1;
        return;
    }
    case OP_EDIT:
        if (rows == 0) {
            o->status = CHATD_ERR_NOT_FOUND;
            return;
        }
        if (val_i64(r, 0, 0) != 0)
            o->status = CHATD_ERR_CONFLICT;
        o->msgs = arena(o, &o->ans, sizeof *o->msgs);
        if (o->msgs) {
            read_message(o, r, 0, 1, o->msgs);
            o->n = 1;
        }
        return;
    case OP_REACT: case OP_REACTIONS: {
        /* REACT: o_status, emoji, count, me; REACTIONS: seq, emoji, count, me */
        if (cols != 4 || (kind == OP_REACT && rows == 0)) {
            o->status = CHATD_ERR_INTERNAL;
            return;
        }
        if (kind == OP_REACT)
            o->status = (chatd_status)val_i64(r, 0, 0);
        o->counts = rows ? arena(o, &o->ans, (size_t)rows * sizeof *o->counts) : NULL;
        for (int i = 0; i < rows && o->counts; i++) {
            if (PQgetisnull(r, i, 1))
                continue; /* the message has none */
            o->counts[o->ncounts++] = (struct chatd_reaction_count){
                .size = sizeof *o->counts, .seq = kind == OP_REACT ? o->react.seq : (uint64_t)val_i64(r, i, 0),
                .emoji = val(r, i, 1), .count = (uint64_t)val_i64(r, i, 2), .me = val_true(r, i, 3)};
        }
        return;
    }
    case OP_CANNED_PUT:
        if (rows != 1 || cols != 1) {
            o->status = CHATD_ERR_INTERNAL;
            return;
        }
        if (val_i64(r, 0, 0) < 0)
            o->status = CHATD_ERR_LIMIT;
        else
            o->n = (size_t)val_i64(r, 0, 0);
        return;
    case OP_CANNED_DELETE:
        o->status = rows == 1 && val_i64(r, 0, 0) > 0 ? CHATD_OK : CHATD_ERR_NOT_FOUND;
        return;
    case OP_CANNED_LIST:
        if (cols != 6) {
            o->status = CHATD_ERR_INTERNAL;
            return;
        }
        o->replies = rows ? arena(o, &o->ans, (size_t)rows * sizeof *o->replies) : NULL;
        for (int i = 0; i < rows && o->replies; i++)
            o->replies[o->n++] = (struct chatd_canned_reply){
                .size = sizeof *o->replies, .desk = val(r, i, 0), .shortcut = val(r, i, 1), .title = val(r, i, 2),
                .body = val(r, i, 3), .updated_by = val(r, i, 4), .updated_ms = val_i64(r, i, 5)};
        return;
    case OP_SEARCH:
        if (cols != 13) {
            o->status = CHATD_ERR_INTERNAL;
            return;
        }
        o->msgs = rows ? arena(o, &o->ans, (size_t)rows * sizeof *o->msgs) : NULL;
        for (int i = 0; i < rows && o->msgs; i++) {
            read_message(o, r, i, 1, &o->msgs[o->n]);
            o->msgs[o->n++].room = val(r, i, 0);
        }
        return;
    case OP_HISTORY: case OP_REVISIONS:
        if (rows == 0) {
            o->status = kind == OP_HISTORY ? CHATD_ERR_NOT_FOUND : CHATD_OK;
            return;
        }
        o->msgs = arena(o, &o->ans, (size_t)rows * sizeof *o->msgs);
        for (int i = 0; i < rows && o->msgs; i++) {
            if (PQgetisnull(r, i, 0))
                continue; /* the room has nothing in range */
            struct chatd_message *m = &o->msgs[o->n++];
            read_message(o, r, i, 0, m);
            if (cols > 12 && !PQgetisnull(r, i, 12)) /* HISTORY's hint */
                m->reactions = val_true(r, i, 12) ? CHATD_REACTIONS_SOME : CHATD_REACTIONS_NONE;
        }
        return;
    }
}

/* Result `part` of an op's statement into its answer; o keeps r. A room
 * page has two: its room as room_get's, then its page as message_list's;
 * NOT_FOUND when either read found no room (each statement reads as of
 * its own start: a room removed or created in between). */
static void read_answer(struct op *o, PGresult *r, size_t part, const struct op *room_of)
{
    if (!o->with_room) {
        read_result(o, r, o->kind);
        return;
    }
    if (room_of) {
        /* the page alone: the room is the one room_of read before it */
        PGresult *room = room_of->room_res ? PQcopyResult(room_of->room_res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES)
                                           : NULL;
        if (!room) {
            o->oom = true;
            o->res = r; /* kept, as every answer keeps its result: the group's others copy it */
            return;
        }
        read_result(o, room, OP_GET);
        part = 1;
    }
    if (part == 0) {
        read_result(o, r, OP_GET);
        return;
    }
    chatd_status room = o->status;
    o->room_res = o->res;
    o->n = 0;
    read_result(o, r, OP_HISTORY);
    if (room != CHATD_OK)
        o->status = room;
}

/* The answers of appends sent as one chatd_append_many: row o_i answers
 * the o_i-th op of the group; no row at all, no such room. */
static void read_appends(struct op *h, PGresult *r)
{
    h->res = r;
    int rows = PQntuples(r);
    bool shaped = PQnfields(r) == 6;
    size_t n = 0;
    for (struct op *o = h; o; o = o->gnext, n++) /* INTERNAL: until its row comes */
        o->status = shaped && rows == 0 ? CHATD_ERR_NOT_FOUND : CHATD_ERR_INTERNAL;
    if (!shaped || rows == 0)
        return;
    struct op **by = malloc(n * sizeof *by);
    size_t k = 0;
    for (struct op *o = h; o; o = o->gnext) {
        if (by)
            by[k++] = o;
        else
            o->oom = true;
    }
    for (int row = 0; by && row < rows; row++) {
        int64_t i = val_i64(r, row, 0) - 1;
        if (i < 0 || (uint64_t)i >= n)
            continue;
        struct op *o = by[i];
        struct chatd_message *m = o->msgs = arena(o, &o->ans, sizeof *m);
        if (!m)
            continue;
        *m = o->msg_arg;
        m->size = sizeof *m; /* the answer is ours, not the host's struct */
        m->seq = (uint64_t)val_i64(r, row, 2);
        m->id = copy_str(o, &o->ans, val(r, row, 3));
        o->status = CHATD_OK;
        if (!val_true(r, row, 1)) {
            o->status = CHATD_ERR_EXISTS;
            m->ts_ms = val_i64(r, row, 4);
            val_bytes(o, r, row, 5, &m->body, &m->body_len);
        }
        o->n = 1;
    }
    free(by);
}

/* The answer of a statement (its result `part`) to every op of its group
 * (see group_batch). */
static void read_group(struct op *h, PGresult *r, size_t part)
{
    if (h->kind == OP_APPEND && h->gnext) {
        read_appends(h, r);
        return;
    }
    read_answer(h, r, part, h->room_of);
    for (struct op *o = h->gnext; o; o = o->gnext) {
        if (o->kind == OP_MARK) {
            o->status = h->status;
            continue;
        }
        /* identical reads: each answer owns its memory */
        PGresult *copy = PQcopyResult(r, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
        if (copy)
            read_answer(o, copy, part, h->room_of);
        else
            o->oom = true;
    }
}

/* ------------------------------------------------------------ sending */

static void u64_param(char *buf, size_t len, uint64_t v)
{
    /* bigint is signed: a cursor above its range means "from the top" */
    snprintf(buf, len, "%lld", (long long)(v > (uint64_t)INT64_MAX ? INT64_MAX : v));
}

static int send_op(PGconn *pg, struct op *o)
{
    const char *v[12] = {0};
    int len[12] = {0}, fmt[12] = {0};
    char a[24], b[24], c[24], d[24];
    const char *sql = NULL;
    int n = 0;
    switch (o->kind) {
    case OP_CREATE: {
        const struct chatd_room *r = &o->room_arg;
        snprintf(a, sizeof a, "%d", (int)r->kind);
        snprintf(b, sizeof b, "%d", (int)(r->state ? r->state : CHATD_ROOM_OPEN));
        snprintf(c, sizeof c, "%lld", (long long)r->created_ms);
        snprintf(d, sizeof d, "%lld", (long long)r->assigned_ms);
        const char *p[] = {r->id, a, b, r->title, r->owner, r->agent, c, d, o->key, o->array, r->topic};
        memcpy(v, p, sizeof p);
        n = 11;
        sql = SQL_CREATE;
        break;
    }
    case OP_GET:
        v[0] = o->id, v[1] = o->user, n = 2, sql = SQL_GET;
        break;
    case OP_LIST: {
        const struct chatd_room_filter *f = &o->filter;
        v[n++] = f->for_user;
        if (f->kind)
            snprintf(a, sizeof a, "%d", (int)f->kind), v[n++] = a;
        if (f->state)
            snprintf(b, sizeof b, "%d", (int)f->state), v[n++] = b;
        if (f->agent)
            v[n++] = f->agent;
        if (f->member)
            v[n++] = f->member;
        snprintf(c, sizeof c, "%zu", f->limit ? f->limit : LIST_MAX);
        v[n++] = c;
        sql = o->sql;
        break;
    }
    case OP_CLAIM:
        snprintf(a, sizeof a, "%lld", (long long)o->now);
        v[0] = o->id, v[1] = o->user, v[2] = a, n = 3, sql = SQL_CLAIM;
        break;
    case OP_COMPLETE:
        snprintf(a, sizeof a, "%lld", (long long)o->now);
        v[0] = o->id, v[1] = o->user, v[2] = a, n = 3, sql = SQL_COMPLETE;
        break;
    case OP_CLAIM_LIMITED:
        snprintf(a, sizeof a, "%zu", o->limit > INT64_MAX ? (size_t)INT64_MAX : o->limit);
        snprintf(b, sizeof b, "%lld", (long long)o->now);
        v[0] = o->id, v[1] = o->user, v[2] = a, v[3] = b, n = 4, sql = SQL_CLAIM_LIMITED;
        break;
    case OP_TRANSFER:
        snprintf(a, sizeof a, "%lld", (long long)o->now);
        v[0] = o->id, v[1] = o->user, v[2] = o->to, v[3] = a, n = 4, sql = SQL_TRANSFER;
        break;
    case OP_REOPEN:
        snprintf(a, sizeof a, "%lld", (long long)o->after_ms);
        snprintf(b, sizeof b, "%zu", o->limit > INT64_MAX ? (size_t)INT64_MAX : o->limit);
        snprintf(c, sizeof c, "%lld", (long long)o->now);
        v[0] = o->id, v[1] = o->key, v[2] = a, v[3] = o->user, v[4] = b, v[5] = c, n = 6, sql = SQL_REOPEN;
        break;
    case OP_RATE:
        snprintf(a, sizeof a, "%zu", o->limit);
        snprintf(b, sizeof b, "%lld", (long long)o->now);
        v[0] = o->id, v[1] = a, v[2] = o->user, v[3] = b, n = 4, sql = SQL_RATE;
        break;
    case OP_DELETE:
        v[0] = o->id, n = 1, sql = SQL_DELETE;
        break;
    case OP_GROUP: {
        const struct chatd_group_change *ch = &o->change;
        snprintf(a, sizeof a, "%d", (int)ch->what);
        snprintf(b, sizeof b, "%d", (int)ch->role);
        snprintf(c, sizeof c, "%d", (int)ch->actor_min);
        const char *p[] = {ch->room_id, a, ch->user, b, ch->title, ch->actor, c, ch->outrank ? "true" : "false"};
        memcpy(v, p, sizeof p);
        n = 8;
        sql = SQL_GROUP;
        break;
    }
    case OP_MEMBER_ADD:
    case OP_MEMBER_REMOVE:
        v[0] = o->id, v[1] = o->user, n = 2;
        sql = o->kind == OP_MEMBER_ADD ? SQL_MEMBER_ADD : SQL_MEMBER_REMOVE;
        break;
    case OP_MARK:
        u64_param(a, sizeof a, o->seq);
        v[0] = o->id, v[1] = o->user, v[2] = a, n = 3, sql = SQL_MARK;
        break;
    case OP_APPEND: {
        const struct chatd_message *m = &o->msg_arg;
        snprintf(a, sizeof a, "%lld", (long long)m->ts_ms);
        v[0] = m->room, v[1] = m->sender, v[2] = m->client_id, v[3] = a;
        /* the body as raw bytes: no escaping, no encoding check */
        v[4] = m->body, len[4] = (int)m->body_len, fmt[4] = 1;
        v[5] = m->content_type;
        snprintf(b, sizeof b, "%d", (int)m->kind);
        snprintf(c, sizeof c, "%llu", (unsigned long long)m->reply_to);
        v[6] = b, v[7] = c;
        n = 8;
        sql = SQL_APPEND;
        break;
    }
    case OP_CLOSE:
        snprintf(a, sizeof a, "%lld", (long long)o->now);
        v[0] = o->id, v[1] = a, n = 2, sql = SQL_CLOSE;
        break;
    case OP_PURGE: case OP_PURGE_IDS:
        snprintf(a, sizeof a, "%lld", (long long)o->now);
        snprintf(b, sizeof b, "%zu", o->limit > INT32_MAX ? (size_t)INT32_MAX : o->limit);
        v[0] = a, v[1] = b, n = 2, sql = o->kind == OP_PURGE ? SQL_PURGE : SQL_PURGE_IDS;
        break;
    case OP_ERASE:
        v[0] = o->user, n = 1, sql = SQL_ERASE;
        break;
    case OP_EDIT: {
        const struct chatd_message_edit *ed = &o->edit;
        u64_param(a, sizeof a, ed->seq);
        snprintf(b, sizeof b, "%d", (int)ed->what);
        snprintf(c, sizeof c, "%lld", (long long)ed->now_ms);
        v[0] = o->id, v[1] = a, v[2] = b, v[3] = ed->body, v[4] = ed->content_type, v[5] = c, n = 6;
        len[3] = (int)ed->body_len, fmt[3] = 1;
        sql = SQL_EDIT;
        break;
    }
    case OP_REACT: {
        const struct chatd_reaction_change *rc = &o->react;
        u64_param(a, sizeof a, rc->seq);
        snprintf(b, sizeof b, "%llu", (unsigned long long)(rc->max_distinct > INT32_MAX ? INT32_MAX : rc->max_distinct));
        v[0] = o->id, v[1] = a, v[2] = rc->user, v[3] = rc->emoji, v[4] = rc->add ? "true" : "false", v[5] = b, n = 6;
        sql = SQL_REACT;
        break;
    }
    case OP_REACTIONS:
        v[0] = o->id, v[1] = o->seqs, v[2] = o->user, n = 3;
        sql = SQL_REACTIONS;
        break;
    case OP_REVISIONS:
        u64_param(a, sizeof a, o->after);
        snprintf(b, sizeof b, "%lld", (long long)(o->limit > (size_t)INT64_MAX ? INT64_MAX : (long long)o->limit));
        v[0] = o->id, v[1] = a, v[2] = b, n = 3;
        sql = SQL_REVISIONS;
        break;
    case OP_CANNED_PUT: {
        const struct chatd_canned_reply *cr = &o->canned;
        snprintf(a, sizeof a, "%lld", (long long)cr->updated_ms);
        snprintf(b, sizeof b, "%lld", (long long)(o->limit > (size_t)INT64_MAX ? INT64_MAX : (long long)o->limit));
        const char *p[] = {cr->desk, cr->shortcut, cr->title, cr->body, cr->updated_by, a, b};
        memcpy(v, p, sizeof p);
        n = 7;
        sql = SQL_CANNED_PUT;
        break;
    }
    case OP_CANNED_DELETE:
        v[0] = o->id, v[1] = o->key, n = 2, sql = SQL_CANNED_DELETE;
        break;
    case OP_CANNED_LIST:
        snprintf(a, sizeof a, "%lld", (long long)(o->limit > (size_t)INT64_MAX ? INT64_MAX : (long long)o->limit));
        v[0] = o->id, v[1] = a, n = 2, sql = SQL_CANNED_LIST;
        break;
    case OP_SEARCH:
        snprintf(a, sizeof a, "%lld", (long long)o->now);
        u64_param(b, sizeof b, o->seq);
        snprintf(c, sizeof c, "%lld", (long long)(o->limit > (size_t)INT64_MAX ? INT64_MAX : (long long)o->limit));
        v[0] = o->array, v[1] = o->key, v[2] = o->id, v[3] = a, v[4] = b, v[5] = c, v[6] = o->user, n = 7;
        sql = SQL_SEARCH;
        break;
    case OP_HISTORY:
        u64_param(a, sizeof a, o->before ? o->before : o->after);
        snprintf(b, sizeof b, "%lld", (long long)(o->limit > (size_t)INT64_MAX ? INT64_MAX : (long long)o->limit));
        v[0] = o->id, v[1] = a, v[2] = b, n = 3;
        sql = o->before ? SQL_BEFORE : SQL_AFTER;
        break;
    }
    const char *name = prepared_name(sql);
    if (name)
        return PQsendQueryPrepared(pg, name, n, v, len, fmt, 0);
    return PQsendQueryParams(pg, sql, n, NULL, v, len, fmt, 0);
}

/* A one-dimensional array of n elements of type `oid` in PostgreSQL's
 * binary format (what array_recv reads); v[i] NULL is a NULL element. */
static unsigned char *put32(unsigned char *w, uint32_t x)
{
    x = htonl(x);
    memcpy(w, &x, 4);
    return w + 4;
}

static char *bin_array(uint32_t oid, size_t n, const char *const *v, const size_t *len, int *out_len)
{
    size_t total = 20;
    bool nulls = false;
    for (size_t i = 0; i < n; i++) {
        total += 4 + (v[i] ? len[i] : 0);
        nulls = nulls || !v[i];
    }
    unsigned char *b = total <= INT32_MAX ? malloc(total) : NULL;
    if (!b)
        return NULL;
    unsigned char *w = put32(b, 1);
    w = put32(w, nulls);
    w = put32(w, oid);
    w = put32(w, (uint32_t)n);
    w = put32(w, 1);
    for (size_t i = 0; i < n; i++) {
        if (!v[i]) {
            w = put32(w, UINT32_MAX); /* -1: NULL */
            continue;
        }
        w = put32(w, (uint32_t)len[i]);
        memcpy(w, v[i], len[i]);
        w += len[i];
    }
    *out_len = (int)total;
    return (char *)b;
}

#define OID_INT8 20u
#define OID_INT2 21u
#define OID_TEXT 25u
#define OID_BYTEA 17u

/* The appends of a group as one chatd_append_many, its arrays in binary:
 * bodies as they are, no escaping. */
static int send_appends(PGconn *pg, struct op *h)
{
    size_t n = 0;
    for (struct op *o = h; o; o = o->gnext)
        n++;
    const char **v = calloc(7 * n, sizeof *v);
    size_t *l = calloc(7 * n, sizeof *l);
    unsigned char *ts = malloc(8 * n), *kinds = malloc(2 * n), *replies = malloc(8 * n);
    char *arr[7] = {NULL};
    int alen[7] = {0}, ok = 0;
    if (v && l && ts && kinds && replies) {
        size_t i = 0;
        for (struct op *o = h; o; o = o->gnext, i++) {
            const struct chatd_message *m = &o->msg_arg;
            uint64_t t = (uint64_t)m->ts_ms;
            for (int b = 0; b < 8; b++)
                ts[8 * i + (size_t)b] = (unsigned char)(t >> (56 - 8 * b));
            v[i] = m->sender, l[i] = m->sender ? strlen(m->sender) : 0;
            v[n + i] = m->client_id, l[n + i] = m->client_id ? strlen(m->client_id) : 0;
            v[2 * n + i] = (const char *)&ts[8 * i], l[2 * n + i] = 8;
            v[3 * n + i] = m->body, l[3 * n + i] = m->body_len;
            v[4 * n + i] = m->content_type, l[4 * n + i] = m->content_type ? strlen(m->content_type) : 0;
            kinds[2 * i] = (unsigned char)((unsigned)m->kind >> 8), kinds[2 * i + 1] = (unsigned char)m->kind;
            for (int b = 0; b < 8; b++)
                replies[8 * i + (size_t)b] = (unsigned char)(m->reply_to >> (56 - 8 * b));
            v[5 * n + i] = (const char *)&kinds[2 * i], l[5 * n + i] = 2;
            v[6 * n + i] = (const char *)&replies[8 * i], l[6 * n + i] = 8;
        }
        static const uint32_t oids[7] = {OID_TEXT, OID_TEXT, OID_INT8, OID_BYTEA, OID_TEXT, OID_INT2, OID_INT8};
        bool built = true;
        for (size_t k = 0; k < 7; k++)
            built = (arr[k] = bin_array(oids[k], n, v + k * n, l + k * n, &alen[k])) && built;
        if (built) {
            const char *p[8] = {h->msg_arg.room, arr[0], arr[1], arr[2], arr[3], arr[4], arr[5], arr[6]};
            int plen[8] = {0, alen[0], alen[1], alen[2], alen[3], alen[4], alen[5], alen[6]};
            int fmt[8] = {0, 1, 1, 1, 1, 1, 1, 1};
            ok = PQsendQueryPrepared(pg, "chatd_append_many", 8, p, plen, fmt, 0);
        }
    }
    for (size_t k = 0; k < 7; k++)
        free(arr[k]);
    free(kinds);
    free(replies);
    free(v);
    free(l);
    free(ts);
    return ok;
}

/* How many results the statement of h gives: a room page's are its room
 * (as room_get's, for no user) and its page, sent together so that the
 * two reads cost one round trip. */
static size_t results_of(const struct op *h)
{
    return h->with_room && !h->room_of ? 2 : 1;
}

/* One statement for the ops of a group: appends together, one read mark
 * (the highest) for several, one read for identical ones. */
static int send_group(PGconn *pg, struct op *h)
{
    if (h->with_room && !h->room_of) {
        const char *v[2] = {h->id, NULL};
        return PQsendQueryPrepared(pg, prepared_name(SQL_GET), 2, v, NULL, NULL, 0) && send_op(pg, h);
    }
    if (!h->gnext)
        return send_op(pg, h);
    if (h->kind == OP_APPEND)
        return send_appends(pg, h);
    if (h->kind == OP_MARK) {
        uint64_t seq = h->seq;
        for (const struct op *o = h->gnext; o; o = o->gnext)
            seq = o->seq > seq ? o->seq : seq;
        char a[24];
        u64_param(a, sizeof a, seq);
        const char *v[3] = {h->id, h->user, a};
        return PQsendQueryPrepared(pg, "chatd_mark", 3, v, NULL, NULL, 0);
    }
    return send_op(pg, h);
}

/* ------------------------------------------------------------ grouping */

/* A room read (a room, a page of history) changes nothing. */
static bool is_read(const struct op *o)
{
    return o->kind == OP_GET || o->kind == OP_HISTORY || o->kind == OP_REVISIONS || o->kind == OP_REACTIONS;
}

/* Ops of one batch that one statement answers together: most of what an
 * append costs the server is the statement around the row. The order of
 * what one room sees changes only as reads allow (see pick: a read may see
 * a write called after it, never miss one called before):
 * - appends to one room run together at the first one's place: a later one
 *   runs before the reads and read marks in between, which then see it (a
 *   mark clamped to last_seq can only gain);
 * - read marks of one user in one room run as one, the highest, at the last
 *   one's place, unless a view of the room for that user lies between;
 * - identical reads run once, at the last one's place;
 * - any other write to the room (create, claim, complete, delete, member
 *   change) lies between: no group reaches across it. */
static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool groupable(const struct op *o)
{
    return o->kind == OP_APPEND || o->kind == OP_MARK || is_read(o);
}

/* Whether o joins the group of h, an earlier statement about its room. */
static bool joins(const struct op *h, const struct op *o)
{
    if (h->kind != o->kind)
        return false;
    switch (o->kind) {
    case OP_APPEND:
        return true;
    case OP_MARK:
    case OP_GET:
        return same_str(h->user, o->user);
    case OP_HISTORY:
        return h->before == o->before && h->after == o->after && h->limit == o->limit &&
               h->with_room == o->with_room;
    default:
        return false;
    }
}

/* Whether statement h, between o and the group it would join, stops it. */
static bool blocks(const struct op *h, const struct op *o)
{
    if (is_read(o))
        return false;
    if (!groupable(h))
        return true;
    return o->kind == OP_MARK && h->kind == OP_GET && same_str(h->user, o->user);
}

/* The room pages of one room in a batch look it up once: a room page's
 * statement takes the room from the one before it about the same room
 * when only reads lie between (it then sees every write called before
 * it), and sends its page alone. */
static void share_rooms(struct conn *c)
{
    for (size_t k = 0; k < c->nstmt; k++) {
        struct op *h = c->stmt[k];
        h->room_of = NULL;
        for (size_t j = k; h->with_room && !c->nomerge && j-- > 0;) {
            struct op *e = c->stmt[j];
            if (!is_read(e) && (!e->route || same_str(e->route, h->route)))
                break;
            if (e->with_room && !e->room_of && same_str(e->route, h->route)) {
                h->room_of = e;
                break;
            }
        }
    }
}

/* c->batch into c->stmt; c->stmt has room for 2 * c->nbatch entries (each
 * op adds at most one, each move one more). */
static void group_batch(struct conn *c)
{
    size_t ns = 0;
    for (size_t i = 0; i < c->nbatch; i++) {
        struct op *o = c->batch[i];
        o->gnext = NULL;
        o->gtail = o;
        size_t into = SIZE_MAX;
        for (size_t k = ns; !c->nomerge && o->route && groupable(o) && k-- > 0;) {
            const struct op *h = c->stmt[k];
            /* A write without a route (purge, erase) touches rooms it does
             * not name: nothing groups across it. */
            if (h && !h->route && h->kind != OP_LIST && h->kind != OP_SEARCH)
                break;
            if (!h || !h->route || strcmp(h->route, o->route) != 0)
                continue;
            if (joins(h, o)) {
                into = k;
                break;
            }
            if (blocks(h, o))
                break;
        }
        if (into == SIZE_MAX) {
            c->stmt[ns++] = o;
            continue;
        }
        struct op *h = c->stmt[into];
        h->gtail->gnext = o;
        h->gtail = o;
        if (o->kind != OP_APPEND) {
            c->stmt[into] = NULL; /* to the last one's place */
            c->stmt[ns++] = h;
        }
    }
    size_t w = 0;
    for (size_t k = 0; k < ns; k++)
        if (c->stmt[k])
            c->stmt[w++] = c->stmt[k];
    c->nstmt = w;
    share_rooms(c);
}

/* ----------------------------------------------------------- the pool */

static void conn_fail(struct conn *c, const char *why);
static void dispatch(struct pgstore *st, struct op *o);

/* libpq's messages span lines ("...\n\tThis probably means..."): one log
 * line each. */
static void one_line(char *out, size_t len, const char *msg)
{
    size_t w = 0;
    bool space = false;
    for (const char *p = msg ? msg : ""; *p && w + 1 < len; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
            space = w > 0;
            continue;
        }
        if (space && w + 2 < len)
            out[w++] = ' ';
        space = false;
        out[w++] = *p;
    }
    out[w] = '\0';
}

static void log_pq(struct pgstore *st, chatd_log_level level, const char *what, const char *msg)
{
    char line[300];
    one_line(line, sizeof line, msg);
    st->host->log(st->host, level, "%s%s", what, line);
}

static void on_notice(void *arg, const char *message)
{
    log_pq(arg, CHATD_LOG_DEBUG, "server: ", message);
}

static bool in_progress(const struct conn *c)
{
    return c->state == C_RESOLVING || c->state == C_CONNECTING || c->state == C_MIGRATING;
}

static void update_ready(struct pgstore *st, const char *why)
{
    size_t up = 0;
    for (size_t i = 0; i < st->nconns; i++)
        up += st->conns[i].state == C_READY;
    if ((up > 0) != st->ready) {
        st->ready = up > 0;
        st->host->set_ready(st->host, st->ready, why);
    }
}

static void kick(struct conn *c)
{
    event_active(c->kick, 0, 0);
}

static bool flush(struct conn *c)
{
    int r = PQflush(c->pg);
    if (r > 0)
        event_add(c->wr, NULL);
    return r >= 0;
}

static void enqueue(struct conn *c, struct op *o)
{
    o->next = NULL;
    if (c->qtail)
        c->qtail->next = o;
    else
        c->qhead = o;
    c->qtail = o;
    c->nq++;
}

/* Whether a write is queued or in flight on c. */
static bool writes_pending(const struct conn *c)
{
    for (const struct op *o = c->qhead; o; o = o->next)
        if (!is_read(o))
            return true;
    for (size_t i = 0; c->busy && i < c->nbatch; i++)
        if (!is_read(c->batch[i]))
            return true;
    return false;
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* A room always maps to the same connection while it is up, so its writes
 * run in call order and a read runs after every write called before it. A
 * read goes to the least busy connection instead when its room's connection
 * has no write queued or in flight: it then cannot miss one (it may see a
 * write called after it, as a list may). Lists go wherever is idle. */
static struct conn *pick(struct pgstore *st, const struct op *o)
{
    size_t n = st->nconns;
    if (!o->route)
        for (size_t i = 0; i < n; i++)
            if (st->conns[i].state == C_READY && !st->conns[i].busy && !st->conns[i].qhead)
                return &st->conns[i];
    size_t start = o->route ? hash(o->route) % n : st->rr++ % n;
    struct conn *home = NULL;
    for (size_t i = 0; i < n && !home; i++) {
        struct conn *c = &st->conns[(start + i) % n];
        if (c->state == C_READY)
            home = c;
    }
    if (!home || !o->route || !is_read(o) || writes_pending(home))
        return home;
    struct conn *best = home;
    for (size_t i = 0; i < n; i++) {
        struct conn *c = &st->conns[i];
        if (c->state == C_READY && c->nq + c->nbatch < best->nq + best->nbatch)
            best = c;
    }
    return best;
}

static bool any_in_progress(struct pgstore *st)
{
    for (size_t i = 0; i < st->nconns; i++)
        if (in_progress(&st->conns[i]))
            return true;
    return false;
}

static void dispatch(struct pgstore *st, struct op *o)
{
    struct conn *c = pick(st, o);
    if (c) {
        enqueue(c, o);
        kick(c);
    } else if (any_in_progress(st)) {
        /* a connection is on its way: wait for it rather than fail */
        o->next = NULL;
        if (st->wtail)
            st->wtail->next = o;
        else
            st->whead = o;
        st->wtail = o;
    } else {
        finish_later(o, CHATD_ERR_UNAVAILABLE);
    }
}

/* Hand the waiting ops on once something changed: to a connection that came
 * up, or back with UNAVAILABLE when no attempt is left. */
static void redispatch_waiting(struct pgstore *st)
{
    struct op *o = st->whead;
    st->whead = st->wtail = NULL;
    for (struct op *next; o; o = next) {
        next = o->next;
        dispatch(st, o);
    }
}

static void send_batch(struct conn *c)
{
    size_t n = 0;
    while (c->qhead && n < MAX_BATCH) {
        if (n == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 16;
            struct op **grown = realloc(c->batch, cap * sizeof *grown);
            if (grown)
                c->batch = grown;
            struct op **stmts = grown ? realloc(c->stmt, 2 * cap * sizeof *stmts) : NULL;
            if (!stmts)
                break;
            c->stmt = stmts;
            c->cap = cap;
        }
        struct op *o = c->qhead;
        c->qhead = o->next;
        if (!c->qhead)
            c->qtail = NULL;
        c->nq--;
        o->next = NULL;
        c->batch[n++] = o;
    }
    if (!n)
        return;
    c->nbatch = n;
    group_batch(c);
    c->nres = 0;
    for (size_t i = 0; i < c->nstmt; i++)
        c->nres += results_of(c->stmt[i]);
    c->at = c->part = 0;
    c->busy = true;
    c->got = 0;
    c->pre = 0;
    c->committed = false;
    c->err_item = c->err_stmt = -1;
    c->err_state[0] = c->err_text[0] = '\0';

    /* Lock the rooms this batch writes to, in one order for every instance,
     * when there are two or more of them: that is what can deadlock. */
    const char *first = NULL;
    size_t nlocks = 0;
    bool several = false;
    for (size_t i = 0; i < n; i++) {
        if (!c->batch[i]->locks)
            continue;
        nlocks++;
        if (!first)
            first = c->batch[i]->route;
        else if (strcmp(first, c->batch[i]->route) != 0)
            several = true;
    }
    char *prelock = NULL;
    const char **rooms = several ? malloc(nlocks * sizeof *rooms) : NULL;
    if (rooms) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (c->batch[i]->locks)
                rooms[k++] = c->batch[i]->route;
        prelock = text_array(NULL, NULL, rooms, k);
        free(rooms);
    }

    /* Reads alone need no transaction of their own: the statements up to
     * the Sync run as one implicit transaction, without the two round
     * trips of BEGIN and COMMIT inside the backend. */
    c->tx = false;
    for (size_t i = 0; i < n && !c->tx; i++)
        c->tx = !is_read(c->batch[i]) && c->batch[i]->kind != OP_LIST && c->batch[i]->kind != OP_SEARCH;
    c->committed = !c->tx;

    bool ok = true;
    if (c->need_rollback) {
        /* an error left the previous transaction aborted */
        ok = PQsendQueryParams(c->pg, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);
        c->pre++;
        c->need_rollback = false;
    }
    if (c->tx) {
        ok = ok && PQsendQueryParams(c->pg, SQL_BEGIN, 0, NULL, NULL, NULL, NULL, 0);
        c->pre++;
    }
    if (ok && prelock) {
        const char *v[1] = {prelock};
        ok = PQsendQueryPrepared(c->pg, "chatd_prelock", 1, v, NULL, NULL, 0);
        c->pre++;
    }
    free(prelock);
    for (size_t i = 0; ok && i < c->nstmt; i++)
        ok = send_group(c->pg, c->stmt[i]);
    if (c->tx)
        ok = ok && PQsendQueryParams(c->pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
    ok = ok && PQpipelineSync(c->pg);
    if (!ok || !flush(c))
        conn_fail(c, PQerrorMessage(c->pg));
}

static void maybe_send(struct conn *c)
{
    if (c->state == C_READY && !c->busy && c->qhead)
        send_batch(c);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    maybe_send(arg);
}

static bool sqlstate_is(const char *state, const char *prefix)
{
    return strncmp(state, prefix, strlen(prefix)) == 0;
}

/* The batch is over (its Sync came back): answer, or sort out what to run
 * again after a rollback. Nothing in a rolled-back batch happened. */
static void finish_batch(struct conn *c)
{
    struct pgstore *st = c->st;
    size_t n = c->nbatch;
    struct op *head = NULL, **tail = &head;
    for (size_t i = 0; i < n; i++) {
        *tail = c->batch[i];
        tail = &c->batch[i]->next;
    }
    *tail = NULL;
    c->nbatch = 0;
    c->busy = false;

    if (c->committed && c->err_item < 0) {
        c->nomerge = false;
        for (struct op *o = head, *next; o; o = next) {
            next = o->next;
            op_finish(o, o->status);
        }
        return;
    }

    c->need_rollback = true;
    const char *state = c->err_state;
    struct op *offender = c->err_stmt >= 0 ? c->stmt[c->err_stmt] : NULL;
    /* Transient: the same ops may well succeed when run again. */
    bool again = sqlstate_is(state, "40") || strcmp(state, "55P03") == 0;
    /* The server is in trouble: none of them will do better now. */
    bool down = !state[0] || sqlstate_is(state, "08") || sqlstate_is(state, "53") || sqlstate_is(state, "58") ||
                sqlstate_is(state, "XX") || (sqlstate_is(state, "57") && strcmp(state, "57014") != 0);
    /* A statement of several ops failed: which one is at fault shows when
     * they run again one statement each. */
    bool split = !again && !down && offender && offender->gnext;
    if (split) {
        c->nomerge = true;
        offender = NULL;
    }
    chatd_status verdict = CHATD_ERR_UNAVAILABLE;
    if (!again && !down && !split) {
        if (!offender)
            down = true;
        else
            verdict = strcmp(state, "57014") == 0 ? CHATD_ERR_TIMEOUT
                    : sqlstate_is(state, "22") ? CHATD_ERR_INVALID
                                               : CHATD_ERR_INTERNAL;
    }
    log_pq(st, again || split ? CHATD_LOG_DEBUG : CHATD_LOG_WARN,
           again   ? "transaction rolled back, running it again: "
           : split ? "transaction rolled back, running its ops one statement each: "
                   : "transaction rolled back: ",
           c->err_text[0] ? c->err_text : "no COMMIT");

    /* Back to the front of the queue in their order; answers after, since a
     * callback may queue more. An op run again only because another failed
     * is not counted: each round removes the offender. */
    struct op *fail = NULL, **ftail = &fail, *retry = NULL, **rtail = &retry, *last = NULL;
    for (struct op *o = head, *next; o; o = next) {
        next = o->next;
        o->next = NULL;
        answer_reset(o);
        bool give_up = down || (again && ++o->tries >= MAX_TRIES) || (!again && !split && o == offender);
        if (give_up) {
            o->status = !down && !again ? verdict : CHATD_ERR_UNAVAILABLE;
            *ftail = o;
            ftail = &o->next;
        } else {
            *rtail = last = o;
            rtail = &o->next;
            c->nq++;
        }
    }
    if (retry) {
        last->next = c->qhead;
        if (!c->qhead)
            c->qtail = last;
        c->qhead = retry;
    }
    for (struct op *o = fail, *next; o; o = next) {
        next = o->next;
        op_finish(o, o->status);
    }
}

/* One result of the batch in flight, in the order the statements went. */
static void batch_result(struct conn *c, PGresult *r)
{
    ExecStatusType s = PQresultStatus(r);
    size_t i = c->got++;
    long stmt = -1;
    size_t part = 0;
    if (i >= c->pre && i < c->pre + c->nres) {
        stmt = (long)c->at;
        part = c->part++;
        if (c->part == results_of(c->stmt[c->at]))
            c->at++, c->part = 0;
    }
    if (s == PGRES_FATAL_ERROR && c->err_item < 0) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        snprintf(c->err_state, sizeof c->err_state, "%s", state ? state : "");
        snprintf(c->err_text, sizeof c->err_text, "%s", PQresultErrorMessage(r));
        c->err_item = (long)i;
        c->err_stmt = stmt;
    }
    if (stmt >= 0 && s == PGRES_TUPLES_OK && c->err_item < 0) {
        read_group(c->stmt[stmt], r, part);
        return; /* an op keeps r */
    }
    if (i == c->pre + c->nres && s == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") == 0)
        c->committed = true;
    PQclear(r);
}

static void drain_results(struct conn *c)
{
    bool was_null = false;
    while (c->state == C_READY && c->busy && !PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            /* the end of one statement's results; two in a row: nothing more */
            if (was_null)
                break;
            was_null = true;
            continue;
        }
        was_null = false;
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            /* After an error the rest of the batch comes back as one
             * "aborted" result each, so the count holds either way. */
            if (c->got != c->pre + c->nres + (c->tx ? 1 : 0)) {
                conn_fail(c, "lost track of the pipeline");
                return;
            }
            finish_batch(c);
            return;
        }
        batch_result(c, r);
    }
}

/* ----------------------------------------------------------- migrating */

static void became_ready(struct conn *c)
{
    struct pgstore *st = c->st;
    c->state = C_READY;
    if (c->failures)
        st->host->log(st->host, CHATD_LOG_INFO, "connection %u up again", c->index);
    c->failures = 0;
    c->backoff_ms = BACKOFF_MIN_MS;
    char why[200];
    snprintf(why, sizeof why, "connected to %s:%s/%s", PQhost(c->pg), PQport(c->pg), PQdb(c->pg));
    update_ready(st, why);
    redispatch_waiting(st);
    kick(c);
}

static void migrate_send(struct conn *c)
{
    struct pgstore *st = c->st;
    char *sql = NULL;
    if (c->mig_step == 0) {
        /* Serialises every chatd's migration, IF NOT EXISTS included. */
        sql = strdup("BEGIN; SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ");"
                     " CREATE TABLE IF NOT EXISTS chatd_schema (version integer PRIMARY KEY,"
                     " applied_at timestamptz NOT NULL DEFAULT now());"
                     " SELECT coalesce(max(version), 0) AS schema_version FROM chatd_schema");
    } else {
        size_t len = 64;
        for (int v = c->version; v < SCHEMA_VERSION; v++)
            len += strlen(migrations[v]) + 64;
        for (size_t i = 0; i < sizeof PREPARED / sizeof *PREPARED; i++)
            len += strlen(PREPARED[i].name) + strlen(PREPARED[i].sql) + 16;
        sql = malloc(len);
        if (sql) {
            size_t w = 0;
            for (int v = c->version; v < SCHEMA_VERSION; v++)
                w += (size_t)snprintf(sql + w, len - w, "%s; INSERT INTO chatd_schema (version) VALUES (%d);",
                                      migrations[v], v + 1);
            w += (size_t)snprintf(sql + w, len - w, " COMMIT;");
            for (size_t i = 0; i < sizeof PREPARED / sizeof *PREPARED; i++)
                w += (size_t)snprintf(sql + w, len - w, " PREPARE %s AS %s;", PREPARED[i].name, PREPARED[i].sql);
            if (c->version < SCHEMA_VERSION)
                st->host->log(st->host, CHATD_LOG_INFO, "migrating the schema from version %d to %d", c->version,
                              SCHEMA_VERSION);
        }
    }
    c->err_text[0] = '\0';
    if (!sql) {
        conn_fail(c, "out of memory");
        return;
    }
    bool ok = PQsendQuery(c->pg, sql) && flush(c);
    free(sql);
    if (!ok)
        conn_fail(c, PQerrorMessage(c->pg));
}

static void migrate_results(struct conn *c)
{
    struct pgstore *st = c->st;
    while (c->state == C_MIGRATING && !PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (r) {
            ExecStatusType s = PQresultStatus(r);
            if (s == PGRES_FATAL_ERROR && !c->err_text[0])
                snprintf(c->err_text, sizeof c->err_text, "schema: %s", PQresultErrorMessage(r));
            else if (s == PGRES_TUPLES_OK && PQfnumber(r, "schema_version") == 0 && PQntuples(r) == 1)
                c->version = atoi(PQgetvalue(r, 0, 0));
            PQclear(r);
            continue;
        }
        if (c->err_text[0]) {
            conn_fail(c, c->err_text);
            return;
        }
        if (c->mig_step == 0 && c->version > SCHEMA_VERSION) {
            char why[160];
            snprintf(why, sizeof why, "the database has schema version %d; this plugin knows up to %d", c->version,
                     SCHEMA_VERSION);
            if (!st->schema_warned)
                st->host->log(st->host, CHATD_LOG_ERROR, "%s", why);
            st->schema_warned = true;
            c->backoff_ms = BACKOFF_MAX_MS; /* no use asking often */
            conn_fail(c, why);
            return;
        }
        if (c->mig_step == 0) {
            c->mig_step = 1;
            migrate_send(c);
            continue;
        }
        if (!PQenterPipelineMode(c->pg)) {
            conn_fail(c, PQerrorMessage(c->pg));
            return;
        }
        became_ready(c);
        return;
    }
}

/* ------------------------------------------------------- socket events */

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct conn *c = arg;
    if (!PQconsumeInput(c->pg)) {
        conn_fail(c, PQerrorMessage(c->pg));
        return;
    }
    if (c->state == C_MIGRATING)
        migrate_results(c);
    else
        drain_results(c);
    if ((c->state == C_READY || c->state == C_MIGRATING) && PQstatus(c->pg) == CONNECTION_BAD) {
        conn_fail(c, PQerrorMessage(c->pg));
        return;
    }
    maybe_send(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct conn *c = arg;
    if (!flush(c))
        conn_fail(c, PQerrorMessage(c->pg));
}

/* ---------------------------------------------------------- connecting */

/* Host names: libpq would resolve them with a blocking getaddrinfo inside
 * PQconnectPoll, so they are looked up here with getaddrinfo_a and handed
 * to libpq as hostaddr. */
struct lookup {
    size_t n;
    struct gaicb *reqs;
    bool *used;
    struct addrinfo hints;
};

static bool numeric_host(const char *h)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

static bool socket_host(const char *h)
{
    return !*h || h[0] == '/' || h[0] == '@';
}

static void lookup_drop(struct lookup *l)
{
    bool busy = false;
    for (size_t i = 0; i < l->n; i++) {
        if (!l->used[i])
            continue;
        int r = gai_cancel(&l->reqs[i]);
        if (r == EAI_NOTCANCELED)
            busy = true; /* libc still writes into it: leave it be */
        else if (l->reqs[i].ar_result)
            freeaddrinfo(l->reqs[i].ar_result);
    }
    if (busy)
        return;
    free(l->reqs);
    free(l->used);
    free(l);
}

static void conn_teardown(struct conn *c)
{
    if (c->io)
        event_free(c->io);
    if (c->wr)
        event_free(c->wr);
    c->io = c->wr = NULL;
    if (c->timer)
        event_del(c->timer);
    if (c->tick)
        event_del(c->tick);
    if (c->lookup)
        lookup_drop(c->lookup);
    c->lookup = NULL;
    if (c->pg)
        PQfinish(c->pg);
    c->pg = NULL;
    c->busy = false;
    c->need_rollback = false;
    c->state = C_DOWN;
}

/* The connection is gone or never came: what was in flight fails (it may or
 * may not have committed: only UNAVAILABLE, never OK), what was queued goes
 * elsewhere, and a new attempt comes after a growing pause. */
static void conn_fail(struct conn *c, const char *why_in)
{
    struct pgstore *st = c->st;
    char why[300];
    one_line(why, sizeof why, why_in && *why_in ? why_in : "connection lost");
    bool was_ready = c->state == C_READY;
    c->failures++;
    st->host->log(st->host, was_ready || c->failures == 1 ? CHATD_LOG_WARN : CHATD_LOG_DEBUG,
                  "connection %u %s: %s; again in %u ms", c->index, was_ready ? "lost" : "failed", why,
                  c->backoff_ms);

    struct op *inflight = NULL, **tail = &inflight;
    for (size_t i = 0; i < c->nbatch; i++) {
        *tail = c->batch[i];
        tail = &c->batch[i]->next;
    }
    *tail = NULL;
    c->nbatch = 0;
    struct op *queued = c->qhead;
    c->qhead = c->qtail = NULL;
    c->nq = 0;

    conn_teardown(c);
    struct timeval tv = {c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000};
    event_add(c->timer, &tv);
    c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
    update_ready(st, why);

    for (struct op *o = queued, *next; o; o = next) {
        next = o->next;
        dispatch(st, o);
    }
    if (!any_in_progress(st))
        redispatch_waiting(st);
    for (struct op *o = inflight, *next; o; o = next) {
        next = o->next;
        op_finish(o, CHATD_ERR_UNAVAILABLE);
    }
}

static void on_connect_io(evutil_socket_t fd, short what, void *arg);

static void watch_connect(struct conn *c, PostgresPollingStatusType how)
{
    if (c->io)
        event_free(c->io);
    c->io = event_new(c->st->host->base, PQsocket(c->pg), how == PGRES_POLLING_READING ? EV_READ : EV_WRITE,
                      on_connect_io, c);
    if (!c->io || event_add(c->io, NULL) != 0)
        conn_fail(c, "cannot watch the socket");
}

static void connected(struct conn *c)
{
    struct pgstore *st = c->st;
    event_del(c->timer);
    event_free(c->io);
    int fd = PQsocket(c->pg);
    c->io = event_new(st->host->base, fd, EV_READ | EV_PERSIST, on_read, c);
    c->wr = event_new(st->host->base, fd, EV_WRITE, on_write, c);
    if (!c->io || !c->wr || event_add(c->io, NULL) != 0 || PQsetnonblocking(c->pg, 1) != 0) {
        conn_fail(c, "cannot watch the socket");
        return;
    }
    PQsetNoticeProcessor(c->pg, on_notice, st);
    c->state = C_MIGRATING;
    c->mig_step = 0;
    c->version = 0;
    migrate_send(c);
}

static void on_connect_io(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct conn *c = arg;
    PostgresPollingStatusType r = PQconnectPoll(c->pg);
    if (r == PGRES_POLLING_OK)
        connected(c);
    else if (r == PGRES_POLLING_FAILED)
        conn_fail(c, PQerrorMessage(c->pg));
    else
        watch_connect(c, r); /* the socket may have changed: next address */
}

/* host, hostaddr and port (each may be NULL) override the conninfo's. */
static void connect_with(struct conn *c, const char *host, const char *hostaddr, const char *port)
{
    struct pgstore *st = c->st;
    const char *keys[6] = {"fallback_application_name", "dbname"}, *vals[6] = {"chatd", st->conninfo};
    size_t n = 2;
    if (host)
        keys[n] = "host", vals[n++] = host;
    if (hostaddr)
        keys[n] = "hostaddr", vals[n++] = hostaddr;
    if (port)
        keys[n] = "port", vals[n++] = port;
    keys[n] = vals[n] = NULL;
    c->pg = PQconnectStartParams(keys, vals, 1);
    if (!c->pg) {
        conn_fail(c, "out of memory");
        return;
    }
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        conn_fail(c, PQerrorMessage(c->pg));
        return;
    }
    c->state = C_CONNECTING;
    watch_connect(c, PGRES_POLLING_WRITING);
}

static void append(char *buf, size_t *w, size_t len, const char *sep, const char *v)
{
    *w += (size_t)snprintf(buf + *w, len - *w, "%s%s", sep, v);
}

/* The lookups are done: one host entry per address, as libpq itself would
 * try them, in the conninfo's order. A name that does not resolve is left
 * out while another host remains. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct conn *c = arg;
    struct pgstore *st = c->st;
    struct lookup *l = c->lookup;
    for (size_t i = 0; i < l->n; i++)
        if (l->used[i] && gai_error(&l->reqs[i]) == EAI_INPROGRESS)
            return;
    event_del(c->tick);
    size_t len = 1;
    for (size_t i = 0; i < st->nhosts; i++) {
        size_t naddr = 1;
        if (l->used[i] && gai_error(&l->reqs[i]) == 0)
            for (struct addrinfo *ai = l->reqs[i].ar_result; ai; ai = ai->ai_next)
                naddr++;
        len += naddr * (strlen(st->hosts[i]) + INET6_ADDRSTRLEN + (st->ports ? strlen(st->ports[i]) : 0) + 3);
    }
    char *hosts = malloc(len), *addrs = malloc(len), *ports = st->ports ? malloc(len) : NULL;
    size_t wh = 0, wa = 0, wp = 0, entries = 0;
    char why[300] = "";
    for (size_t i = 0; hosts && addrs && (ports || !st->ports) && i < st->nhosts; i++) {
        const char *port = st->ports ? st->ports[i] : "";
        if (!l->used[i]) {
            /* a socket directory, or an address already */
            append(hosts, &wh, len, entries ? "," : "", st->hosts[i]);
            append(addrs, &wa, len, entries ? "," : "", socket_host(st->hosts[i]) ? "" : st->hosts[i]);
            if (ports)
                append(ports, &wp, len, entries ? "," : "", port);
            entries++;
            continue;
        }
        int e = gai_error(&l->reqs[i]);
        if (e || !l->reqs[i].ar_result) {
            if (!*why)
                snprintf(why, sizeof why, "cannot resolve %s: %s", st->hosts[i], gai_strerror(e));
            continue;
        }
        for (struct addrinfo *ai = l->reqs[i].ar_result; ai; ai = ai->ai_next) {
            char one[INET6_ADDRSTRLEN] = "";
            if (ai->ai_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr, one, sizeof one);
            else if (ai->ai_family == AF_INET6)
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr, one, sizeof one);
            if (!*one)
                continue;
            append(hosts, &wh, len, entries ? "," : "", st->hosts[i]);
            append(addrs, &wa, len, entries ? "," : "", one);
            if (ports)
                append(ports, &wp, len, entries ? "," : "", port);
            entries++;
        }
    }
    lookup_drop(l);
    c->lookup = NULL;
    if (!hosts || !addrs || (st->ports && !ports))
        conn_fail(c, "out of memory");
    else if (!entries)
        conn_fail(c, *why ? why : "no address to connect to");
    else
        connect_with(c, hosts, addrs, ports);
    free(hosts);
    free(addrs);
    free(ports);
}

static void connect_start(struct conn *c)
{
    struct pgstore *st = c->st;
    struct timeval tv = {st->connect_timeout_ms / 1000, (st->connect_timeout_ms % 1000) * 1000};
    event_add(c->timer, &tv);
    if (!st->nhosts) {
        connect_with(c, NULL, NULL, NULL);
        return;
    }
    struct lookup *l = calloc(1, sizeof *l);
    if (l) {
        l->n = st->nhosts;
        l->reqs = calloc(l->n, sizeof *l->reqs);
        l->used = calloc(l->n, sizeof *l->used);
    }
    if (!l || !l->reqs || !l->used) {
        if (l) {
            free(l->reqs);
            free(l->used);
        }
        free(l);
        conn_fail(c, "out of memory");
        return;
    }
    l->hints.ai_socktype = SOCK_STREAM;
    l->hints.ai_flags = AI_ADDRCONFIG;
    c->lookup = l;
    c->state = C_RESOLVING;
    for (size_t i = 0; i < l->n; i++) {
        if (socket_host(st->hosts[i]) || numeric_host(st->hosts[i]))
            continue;
        struct gaicb *one = &l->reqs[i];
        one->ar_name = st->hosts[i];
        one->ar_request = &l->hints;
        if (getaddrinfo_a(GAI_NOWAIT, &one, 1, NULL) != 0) {
            conn_fail(c, "cannot start a host name lookup");
            return;
        }
        l->used[i] = true;
    }
    struct timeval poll = {0, LOOKUP_POLL_MS * 1000};
    event_add(c->tick, &poll);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct conn *c = arg;
    if (c->state == C_DOWN)
        connect_start(c);
    else if (c->state == C_RESOLVING || c->state == C_CONNECTING)
        conn_fail(c, c->state == C_RESOLVING ? "timed out resolving the host name" : "timed out connecting");
}

/* ------------------------------------------------------------- the ops */

static struct op *op_new(struct pgstore *st, enum op_kind kind, void *cb, void *ctx)
{
    struct op *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->st = st;
    o->kind = kind;
    o->cb = cb;
    o->ctx = ctx;
    return o;
}

static void submit(struct pgstore *st, struct op *o)
{
    st->pending++;
    if (o->oom)
        finish_later(o, CHATD_ERR_NOMEM);
    else if (st->pending > st->max_pending)
        finish_later(o, CHATD_ERR_LIMIT); /* as the other storage plugins: a configured bound */
    else
        dispatch(st, o);
}

#define NEW_OP(kind, cb)                              \
    struct pgstore *st = state;                       \
    struct op *o = op_new(st, kind, (void *)cb, ctx); \
    if (!o)                                           \
        return;

static void p_room_create(void *state, const struct chatd_room *room, const char *unique_key, chatd_room_cb cb,
                          void *ctx)
{
    NEW_OP(OP_CREATE, cb)
    o->room_arg = *room;
    o->room_arg.id = o->route = astr(o, room->id);
    o->room_arg.title = astr(o, room->title);
    o->room_arg.owner = astr(o, room->owner);
    o->room_arg.agent = astr(o, room->agent);
    o->room_arg.topic = CHATD_HAS(room, topic) ? astr(o, room->topic) : NULL;
    o->room_arg.members = NULL;
    o->array = text_array(o, &o->args, room->members, room->nmembers);
    o->key = astr(o, unique_key);
    submit(st, o);
}

static void p_room_get(void *state, const char *room_id, const char *for_user, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_GET, cb)
    o->id = o->route = astr(o, room_id);
    o->user = astr(o, for_user);
    submit(st, o);
}

static void p_room_list(void *state, const struct chatd_room_filter *f, chatd_rooms_cb cb, void *ctx)
{
    NEW_OP(OP_LIST, cb)
    o->filter = *f;
    o->filter.member = astr(o, f->member);
    o->filter.agent = astr(o, f->agent);
    o->filter.for_user = astr(o, f->for_user);
    /* Only the conditions asked for, so the planner sees which index fits. */
    char sql[600];
    int n = 1;
    size_t w = (size_t)snprintf(sql, sizeof sql,
                                "SELECT v.* FROM chatd_rooms r CROSS JOIN LATERAL chatd_room_view(r.id, $1) v WHERE true");
    if (f->kind)
        w += (size_t)snprintf(sql + w, sizeof sql - w, " AND r.kind = $%d::smallint", ++n);
    if (f->state)
        w += (size_t)snprintf(sql + w, sizeof sql - w, " AND r.state = $%d::smallint", ++n);
    if (f->agent)
        w += (size_t)snprintf(sql + w, sizeof sql - w, " AND r.agent = $%d", ++n);
    if (f->member)
        w += (size_t)snprintf(sql + w, sizeof sql - w,
                              " AND r.id IN (SELECT m.room FROM chatd_members m WHERE m.user_id = $%d)", ++n);
    snprintf(sql + w, sizeof sql - w, " ORDER BY r.created_ms, r.ord LIMIT $%d::bigint", ++n);
    o->sql = astr(o, sql);
    submit(st, o);
}

static void p_room_claim(void *state, const char *room_id, const char *agent, int64_t now_ms, chatd_room_cb cb,
                         void *ctx)
{
    NEW_OP(OP_CLAIM, cb)
    o->id = o->route = astr(o, room_id);
    o->user = astr(o, agent);
    o->now = now_ms;
    o->locks = true;
    submit(st, o);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void p_room_claim_limited(void *state, const char *room_id, const char *agent, size_t max_open,
                                 int64_t now_ms, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_CLAIM_LIMITED, cb)
    o->id = o->route = astr(o, room_id);
    o->user = astr(o, agent);
    o->limit = max_open;
    o->now = now_ms;
    o->locks = true;
    submit(st, o);
}

static void p_room_transfer(void *state, const struct chatd_room_transfer *t, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_TRANSFER, cb)
    o->id = o->route = astr(o, t->room_id);
    o->user = astr(o, t->from);
    o->to = astr(o, t->to);
    o->now = t->now_ms;
    o->locks = true;
    submit(st, o);
}

static void p_room_reopen(void *state, const struct chatd_room_reopen *ro, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_REOPEN, cb)
    o->id = o->route = astr(o, ro->room_id);
    o->key = astr(o, ro->unique_key);
    o->user = astr(o, ro->agent);
    o->limit = ro->max_open;
    o->after_ms = ro->completed_after_ms;
    o->now = ro->now_ms;
    o->locks = true;
    submit(st, o);
}

/* SDK 2.8: canned replies. A desk's ops share a route (its own name
 * space, no room's) so they run in call order on one connection. */
static const char *canned_route(struct op *o, const char *desk)
{
    size_t n = strlen(desk);
    char *r = arena(o, &o->args, n + sizeof "canned\x1f");
    if (r) {
        memcpy(r, "canned\x1f", sizeof "canned\x1f" - 1);
        memcpy(r + sizeof "canned\x1f" - 1, desk, n + 1);
    }
    return r;
}

static void p_canned_put(void *state, const struct chatd_canned_reply *reply, size_t max_per_desk,
                         chatd_count_cb cb, void *ctx)
{
    NEW_OP(OP_CANNED_PUT, cb)
    o->canned = (struct chatd_canned_reply){
        .size = sizeof o->canned, .desk = astr(o, reply->desk), .shortcut = astr(o, reply->shortcut),
        .title = astr(o, reply->title), .body = astr(o, reply->body), .updated_by = astr(o, reply->updated_by),
        .updated_ms = reply->updated_ms};
    o->route = canned_route(o, reply->desk);
    o->limit = max_per_desk;
    submit(st, o);
}

static void p_canned_delete(void *state, const char *desk, const char *shortcut, chatd_done_cb cb, void *ctx)
{
    NEW_OP(OP_CANNED_DELETE, cb)
    o->id = astr(o, desk);
    o->key = astr(o, shortcut);
    o->route = canned_route(o, desk);
    submit(st, o);
}

static void p_canned_list(void *state, const char *desk, size_t limit, chatd_canned_cb cb, void *ctx)
{
    NEW_OP(OP_CANNED_LIST, cb)
    o->id = astr(o, desk);
    o->limit = limit ? limit : 1;
    o->route = canned_route(o, desk);
    submit(st, o);
}

static void p_room_rate(void *state, const struct chatd_room_rating *rt, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_RATE, cb)
    o->id = o->route = astr(o, rt->room_id);
    o->user = astr(o, rt->comment); /* NULL: none */
    o->limit = rt->rating;
    o->now = rt->now_ms;
    o->locks = true;
    submit(st, o);
}

static void p_room_complete(void *state, const char *room_id, const char *agent, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_COMPLETE, cb)
    o->id = o->route = astr(o, room_id);
    o->user = astr(o, agent);
    o->now = wall_ms(); /* when completed: room_reopen's window */
    o->locks = true;
    submit(st, o);
}

static void p_room_delete(void *state, const char *room_id, chatd_done_cb cb, void *ctx)
{
    NEW_OP(OP_DELETE, cb)
    o->id = o->route = astr(o, room_id);
    o->locks = true;
    submit(st, o);
}

static void p_member(void *state, enum op_kind kind, const char *room_id, const char *user, chatd_done_cb cb,
                     void *ctx)
{
    NEW_OP(kind, cb)
    o->id = o->route = astr(o, room_id);
    o->user = astr(o, user);
    o->locks = true;
    submit(st, o);
}

static void p_member_add(void *state, const char *room_id, const char *user, chatd_done_cb cb, void *ctx)
{
    p_member(state, OP_MEMBER_ADD, room_id, user, cb, ctx);
}

static void p_member_remove(void *state, const char *room_id, const char *user, chatd_done_cb cb, void *ctx)
{
    p_member(state, OP_MEMBER_REMOVE, room_id, user, cb, ctx);
}

static void p_group_change(void *state, const struct chatd_group_change *ch, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_GROUP, cb)
    o->change = *ch;
    o->change.size = sizeof o->change;
    o->change.room_id = o->id = o->route = astr(o, ch->room_id);
    o->change.user = astr(o, ch->user);
    o->change.title = astr(o, ch->title);
    o->change.actor = astr(o, ch->actor);
    o->locks = true;
    submit(st, o);
}

static void p_message_append(void *state, const struct chatd_message *msg, chatd_message_cb cb, void *ctx)
{
    NEW_OP(OP_APPEND, cb)
    o->msg_arg = *msg;
    o->msg_arg.room = o->route = astr(o, msg->room);
    o->msg_arg.sender = astr(o, msg->sender);
    o->msg_arg.client_id = astr(o, msg->client_id);
    o->msg_arg.content_type = CHATD_HAS(msg, content_type) ? astr(o, msg->content_type) : NULL;
    o->msg_arg.kind = CHATD_HAS(msg, kind) ? msg->kind : CHATD_MESSAGE_TEXT;
    o->msg_arg.reply_to = CHATD_HAS(msg, reply_to) ? msg->reply_to : 0;
    o->msg_arg.id = NULL;
    o->msg_arg.seq = 0;
    char *body = arena(o, &o->args, msg->body_len + 1);
    if (body) {
        if (msg->body_len)
            memcpy(body, msg->body, msg->body_len);
        body[msg->body_len] = '\0';
    }
    o->msg_arg.body = body;
    if (msg->body_len > INT32_MAX)
        o->oom = true; /* libpq takes an int length */
    o->locks = true;
    submit(st, o);
}

/* A page of history, with its room for room_page. */
static void p_page(void *state, bool with_room, const char *room_id, uint64_t before, uint64_t after, size_t limit,
                   void *cb, void *ctx)
{
    NEW_OP(OP_HISTORY, cb)
    o->with_room = with_room;
    o->id = o->route = astr(o, room_id);
    o->before = before;
    o->after = after;
    o->limit = limit;
    submit(st, o);
}

static void p_message_list(void *state, const char *room_id, uint64_t before, uint64_t after, size_t limit,
                           chatd_messages_cb cb, void *ctx)
{
    p_page(state, false, room_id, before, after, limit, (void *)cb, ctx);
}

static void p_room_page(void *state, const char *room_id, uint64_t before, uint64_t after, size_t limit,
                        chatd_room_page_cb cb, void *ctx)
{
    p_page(state, true, room_id, before, after, limit, (void *)cb, ctx);
}

static void p_message_edit(void *state, const struct chatd_message_edit *ed, chatd_message_cb cb, void *ctx)
{
    NEW_OP(OP_EDIT, cb)
    o->edit = *ed;
    o->edit.size = sizeof o->edit;
    o->edit.room_id = o->id = o->route = astr(o, ed->room_id);
    o->edit.content_type = astr(o, ed->content_type);
    char *body = arena(o, &o->args, ed->body_len + 1);
    if (body) {
        if (ed->body_len)
            memcpy(body, ed->body, ed->body_len);
        body[ed->body_len] = '\0';
    }
    o->edit.body = body;
    if (ed->body_len > INT32_MAX)
        o->oom = true; /* libpq takes an int length */
    o->locks = true;
    submit(st, o);
}

static void p_message_revisions(void *state, const char *room_id, uint64_t after_rev, size_t limit,
                                chatd_messages_cb cb, void *ctx)
{
    NEW_OP(OP_REVISIONS, cb)
    o->id = o->route = astr(o, room_id);
    o->after = after_rev;
    o->limit = limit;
    submit(st, o);
}

static void p_reaction_change(void *state, const struct chatd_reaction_change *rc, chatd_reactions_cb cb,
                              void *ctx)
{
    NEW_OP(OP_REACT, cb)
    o->react = *rc;
    o->react.room_id = o->id = o->route = astr(o, rc->room_id);
    o->react.user = astr(o, rc->user);
    o->react.emoji = astr(o, rc->emoji);
    o->locks = true;
    submit(st, o);
}

static void p_reaction_list(void *state, const char *room_id, const uint64_t *seqs, size_t nseqs,
                            const char *for_user, chatd_reactions_cb cb, void *ctx)
{
    NEW_OP(OP_REACTIONS, cb)
    o->id = o->route = astr(o, room_id);
    o->user = astr(o, for_user);
    char *list = arena(o, &o->args, nseqs * 21 + 3);
    if (list) {
        size_t w = 0;
        list[w++] = '{';
        for (size_t i = 0; i < nseqs; i++)
            w += (size_t)snprintf(list + w, 22, "%s%llu", i ? "," : "",
                                  (unsigned long long)(seqs[i] > (uint64_t)INT64_MAX ? 0 : seqs[i]));
        list[w++] = '}';
        list[w] = '\0';
    }
    o->seqs = list;
    submit(st, o);
}

/* A LIKE pattern that holds q anywhere, q in the form the index gives a
 * body (migration 11): bytes above 0x7f as three octal digits, backslashes
 * dropped; then LIKE's % and _ escaped. */
static const char *like_anywhere(struct op *o, const char *q)
{
    size_t n = strlen(q);
    char *p = arena(o, &o->args, 3 * n + 3);
    if (!p)
        return NULL;
    size_t w = 0;
    p[w++] = '%';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)q[i];
        if (ch >= 0x80)
            w += (size_t)snprintf(p + w, 3 * n + 3 - w, "%03o", ch);
        else if (ch == '%' || ch == '_')
            p[w++] = '\\', p[w++] = (char)ch;
        else if (ch != '\\')
            p[w++] = (char)ch;
    }
    p[w++] = '%';
    p[w] = '\0';
    return p;
}

static void p_message_search(void *state, const struct chatd_message_search *q, chatd_messages_cb cb, void *ctx)
{
    NEW_OP(OP_SEARCH, cb)
    o->array = text_array(o, &o->args, q->rooms, q->nrooms);
    o->key = like_anywhere(o, q->query);
    o->user = q->query_json ? like_anywhere(o, q->query_json) : NULL; /* the JSON form's pattern */
    o->id = astr(o, q->before_room);
    o->now = q->before_ts_ms;
    o->seq = q->before_seq;
    o->limit = q->limit;
    if (!o->array || !o->key || (q->query_json && !o->user))
        o->oom = true;
    submit(st, o);
}

static void p_read_mark(void *state, const char *room_id, const char *user, uint64_t seq, chatd_done_cb cb,
                        void *ctx)
{
    NEW_OP(OP_MARK, cb)
    o->id = o->route = astr(o, room_id);
    o->user = astr(o, user);
    o->seq = seq;
    o->locks = true;
    submit(st, o);
}

static void p_room_close(void *state, const char *room_id, int64_t now_ms, chatd_room_cb cb, void *ctx)
{
    NEW_OP(OP_CLOSE, cb)
    o->id = o->route = astr(o, room_id);
    o->now = now_ms;
    o->locks = true;
    submit(st, o);
}

/* Purge and erase name no room (route NULL): they go to any connection,
 * and lock what they touch themselves. */
static void p_room_purge(void *state, int64_t closed_before_ms, size_t limit, chatd_count_cb cb, void *ctx)
{
    NEW_OP(OP_PURGE, cb)
    o->now = closed_before_ms;
    o->limit = limit;
    submit(st, o);
}

static void p_room_purge_ids(void *state, int64_t closed_before_ms, size_t limit, chatd_ids_cb cb, void *ctx)
{
    NEW_OP(OP_PURGE_IDS, cb)
    o->now = closed_before_ms;
    o->limit = limit;
    submit(st, o);
}

static void p_user_erase(void *state, const char *user, chatd_erase_cb cb, void *ctx)
{
    NEW_OP(OP_ERASE, cb)
    o->user = astr(o, user);
    submit(st, o);
}

/* ----------------------------------------------------------- lifecycle */

static void store_free(struct pgstore *st)
{
    for (size_t i = 0; i < st->nhosts; i++) {
        free(st->hosts[i]);
        free(st->ports ? st->ports[i] : NULL);
    }
    free(st->hosts);
    free(st->ports);
    free(st->conninfo);
    free(st->conns);
    free(st);
}

static chatd_status config_long(const struct chatd_host *h, const char *key, long def, long min, long max,
                                long *out)
{
    const char *v = h->config_get(h, key);
    *out = def;
    if (!v)
        return CHATD_OK;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max) {
        h->config_error(h, key, "expected an integer from %ld to %ld, got '%s'", min, max, v);
        return CHATD_ERR_INVALID;
    }
    *out = n;
    return CHATD_OK;
}

/* "5", "5s", "500ms", "1.5s", "1m". */
static chatd_status config_duration(const struct chatd_host *h, const char *key, long def_ms, long min_ms,
                                    long max_ms, long *out)
{
    const char *v = h->config_get(h, key);
    *out = def_ms;
    if (!v)
        return CHATD_OK;
    char *end;
    errno = 0;
    double n = strtod(v, &end);
    double scale = 1000;
    if (strcmp(end, "ms") == 0)
        scale = 1;
    else if (strcmp(end, "m") == 0)
        scale = 60000;
    else if (*end && strcmp(end, "s") != 0)
        end = (char *)v;
    double ms = n * scale;
    if (errno || end == v || !(ms >= (double)min_ms && ms <= (double)max_ms)) {
        h->config_error(h, key, "expected a duration from %ldms to %lds (e.g. 5s, 500ms), got '%s'", min_ms,
                        max_ms / 1000, v);
        return CHATD_ERR_INVALID;
    }
    *out = (long)ms;
    return CHATD_OK;
}

/* "a,b,c" into its n elements. */
static char **split_list(const char *v, size_t *n)
{
    *n = 1;
    for (const char *p = v; *p; p++)
        *n += *p == ',';
    char **out = calloc(*n, sizeof *out);
    for (size_t i = 0; out && i < *n; i++) {
        const char *comma = strchr(v, ',');
        size_t len = comma ? (size_t)(comma - v) : strlen(v);
        if (!(out[i] = strndup(v, len))) {
            while (i--)
                free(out[i]);
            free(out);
            return NULL;
        }
        v += len + (comma != NULL);
    }
    return out;
}

/* Which host entries of the conninfo are names to look up (with no
 * hostaddr given, libpq would look them up itself, blocking). */
static chatd_status plan_lookups(struct pgstore *st, PQconninfoOption *opts)
{
    const char *host = NULL, *hostaddr = NULL, *port = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
    }
    if (!host || !*host)
        host = getenv("PGHOST");
    if (!hostaddr || !*hostaddr)
        hostaddr = getenv("PGHOSTADDR");
    if (!port || !*port)
        port = getenv("PGPORT");
    if ((hostaddr && *hostaddr) || !host || !*host)
        return CHATD_OK;
    size_t n, nports = 0;
    if (!(st->hosts = split_list(host, &n)))
        return CHATD_ERR_NOMEM;
    st->nhosts = n;
    bool names = false;
    for (size_t i = 0; i < n; i++)
        names |= !socket_host(st->hosts[i]) && !numeric_host(st->hosts[i]);
    if (!names) {
        for (size_t i = 0; i < n; i++)
            free(st->hosts[i]);
        free(st->hosts);
        st->hosts = NULL;
        st->nhosts = 0;
        return CHATD_OK;
    }
    /* one port per host: it must follow its host into the expanded list */
    if (port && strchr(port, ',')) {
        char **ports = split_list(port, &nports);
        if (!ports)
            return CHATD_ERR_NOMEM;
        if (nports == n) {
            st->ports = ports;
        } else {
            for (size_t i = 0; i < nports; i++)
                free(ports[i]);
            free(ports);
        }
    }
    return CHATD_OK;
}

static void pg_fini(void *state);

static chatd_status pg_init(const struct chatd_host *h, void **state)
{
    const char *conninfo = h->config_get(h, "conninfo");
    long nconns, timeout_ms, max_pending;
    if (config_long(h, "connections", 2, 1, 64, &nconns) != CHATD_OK ||
        config_duration(h, "connect_timeout", 5000, 100, 600000, &timeout_ms) != CHATD_OK ||
        config_long(h, "max_pending", 10000, 1, 10000000, &max_pending) != CHATD_OK)
        return CHATD_ERR_INVALID;
    if (!conninfo || !*conninfo) {
        h->config_error(h, "conninfo", "required: a libpq connection string (host=... dbname=... user=...) or URI");
        return CHATD_ERR_INVALID;
    }
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (!opts) {
        size_t n = err ? strlen(err) : 0;
        while (n && err[n - 1] == '\n')
            n--;
        h->config_error(h, "conninfo", "%.*s", (int)n, err ? err : "out of memory");
        PQfreemem(err);
        return CHATD_ERR_INVALID;
    }
    struct pgstore *st = calloc(1, sizeof *st);
    chatd_status rc = st ? plan_lookups(st, opts) : CHATD_ERR_NOMEM;
    PQconninfoFree(opts);
    if (!st)
        return rc;
    st->host = h;
    st->connect_timeout_ms = timeout_ms;
    st->max_pending = (size_t)max_pending;
    st->nconns = (size_t)nconns;
    st->conninfo = strdup(conninfo);
    st->conns = calloc(st->nconns, sizeof *st->conns);
    if (rc != CHATD_OK || !st->conninfo || !st->conns) {
        store_free(st);
        return CHATD_ERR_NOMEM;
    }
    for (size_t i = 0; i < st->nconns; i++) {
        struct conn *c = &st->conns[i];
        c->st = st;
        c->index = (unsigned)i;
        c->backoff_ms = BACKOFF_MIN_MS;
        c->timer = evtimer_new(h->base, on_timer, c);
        c->tick = event_new(h->base, -1, EV_PERSIST, on_tick, c);
        c->kick = event_new(h->base, -1, 0, on_kick, c);
        if (!c->timer || !c->tick || !c->kick) {
            pg_fini(st);
            return CHATD_ERR_NOMEM;
        }
    }
    h->set_ready(h, false, "connecting to postgres");
    for (size_t i = 0; i < st->nconns; i++)
        connect_start(&st->conns[i]);
    *state = st;
    return CHATD_OK;
}

/* Ops not answered yet are dropped: the host expects no more answers, and
 * what was sent is committed or rolled back by the server on its own. */
static void pg_fini(void *state)
{
    struct pgstore *st = state;
    struct op *drop = st->whead;
    for (size_t i = 0; i < st->nconns; i++) {
        struct conn *c = &st->conns[i];
        for (size_t k = 0; k < c->nbatch; k++)
            op_free(c->batch[k]);
        free(c->batch);
        free(c->stmt);
        for (struct op *o = c->qhead, *next; o; o = next) {
            next = o->next;
            op_free(o);
        }
        conn_teardown(c);
        if (c->timer)
            event_free(c->timer);
        if (c->tick)
            event_free(c->tick);
        if (c->kick)
            event_free(c->kick);
    }
    for (struct op *next; drop; drop = next) {
        next = drop->next;
        op_free(drop);
    }
    if (st->posted)
        st->dead = true; /* the last posted answer frees st */
    else
        store_free(st);
}

static const struct chatd_storage_ops pg_ops = {
    .size = sizeof pg_ops,
    .room_create = p_room_create,
    .room_get = p_room_get,
    .room_list = p_room_list,
    .room_claim = p_room_claim,
    .room_complete = p_room_complete,
    .room_delete = p_room_delete,
    .member_add = p_member_add,
    .member_remove = p_member_remove,
    .message_append = p_message_append,
    .message_list = p_message_list,
    .read_mark = p_read_mark,
    .group_change = p_group_change,
    /* SDK 1.2: transcripts. */
    .room_close = p_room_close,
    .room_purge = p_room_purge,
    .room_purge_ids = p_room_purge_ids,
    .user_erase = p_user_erase,
    /* SDK 2.2: edits and deletes. */
    .message_edit = p_message_edit,
    .message_revisions = p_message_revisions,
    /* SDK 2.3: the support desk. */
    .room_claim_limited = p_room_claim_limited,
    .room_transfer = p_room_transfer,
    .room_reopen = p_room_reopen,
    /* SDK 2.5: reactions. */
    .reaction_change = p_reaction_change,
    .reaction_list = p_reaction_list,
    /* SDK 2.6: ratings. */
    .room_rate = p_room_rate,
    /* SDK 2.4: search. */
    .message_search = p_message_search,
    /* SDK 2.8: canned replies. */
    .canned_put = p_canned_put,
    .canned_delete = p_canned_delete,
    .canned_list = p_canned_list,
    /* SDK 2.13: a room and a page of its history in one round trip. */
    .room_page = p_room_page,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_STORAGE, .name = "postgres", .version = "1.0",
                    .description = "rooms and messages in PostgreSQL: non-blocking libpq, pipelined group commit",
                    .init = pg_init, .fini = pg_fini, .ops.storage = &pg_ops)
