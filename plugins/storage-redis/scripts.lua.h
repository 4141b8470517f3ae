/* storage-redis: the Lua scripts. Each runs atomically in Redis, so a seq, a
 * claim or a unique key is decided there, once, for every chatd instance.
 *
 * Keys, under the configured prefix P:
 *   P room:ID      hash   kind state title owner agent created_ms assigned_ms
 *                         last_seq unique_key closed_ms, and (SDK 2.6) a
 *                         support room's rating rating_comment rated_ms,
 *                         (SDK 2.12) its topic
 *   P members:ID   set    member user ids
 *   P admins:ID    set    a group's admins (the owner is room:ID's owner)
 *   P joined:ID    zset   member -> join order (room:ID's `joins` counts up;
 *                         a member without a score joined before roles were
 *                         stored, and counts as 0)
 *   P msgs:ID      list   element seq-1 = message seq, encoded (see below)
 *   P cids:ID      hash   sender US client_id -> seq (idempotency)
 *   P ctypes:ID    hash   seq -> the message's content type (SDK 2.1; a
 *                         message without a field has none stored)
 *   P mmeta:ID     hash   seq -> "KIND REPLY_TO" (SDK 2.1; none: 0 0)
 *   P medit:ID     hash   seq -> "REV EDITED_MS DELETED" of a changed message
 *                         (SDK 2.2; none: 0 0 0); room:ID's `last_rev` counts
 *   P revs:ID      zset   seq -> its rev: the changed messages in rev order
 *   P rx:ID:SEQ    hash   the reactions to message SEQ (SDK 2.5): field
 *                         EMOJILEN ":" EMOJI USER -> 1
 *   P rxs:ID       set    the seqs of room ID's messages with reactions
 *   P marks:ID     hash   user -> read seq
 *   P urooms:USER  set    rooms USER belongs to
 *   P agent:USER   set    rooms assigned to agent USER (a room handed on
 *                         leaves its previous agent's set)
 *   P ukey:KEY     string room id holding unique key KEY
 *   P rooms        zset   every room by created_ms
 *   P queue        zset   open support rooms by created_ms
 *   P closed       zset   closed support rooms by closed_ms (retention)
 *   P canned:DESK  zset   the desk's canned reply shortcuts (SDK 2.8), all of
 *                         score 0: ordered byte for byte
 *   P cannedr:DESK:SHORTCUT hash  title body by ms of one canned reply
 *                         (a desk's name holds no ':', the host sees to it)
 *   P next_msg     counter of message ids
 *   P schema       the layout version
 *
 * A message is one string: "SEQ TS IDLEN SENDERLEN CIDLEN " then the id,
 * the sender, the client id (CIDLEN -1: none) and the body, raw bytes.
 * The scripts answer a message as "CTLEN " and its content type (CTLEN -1:
 * none), then "KIND REPLY_TO REV EDITED_MS DELETED ", followed by that
 * string (out() below).
 *
 * Optional arguments arrive as "" (absent) or "=" followed by the value. */
#ifndef STORAGE_REDIS_SCRIPTS_H
#define STORAGE_REDIS_SCRIPTS_H

#define LUA_PRELUDE                                                                          \
    "local P = ARGV[1]\n"                                                                    \
    "local function opt(s) if s == '' then return nil end return string.sub(s, 2) end\n"     \
    "local function out(id, enc)\n"                                                          \
    "  if not enc then return enc end\n"                                                     \
    "  local seq = string.match(enc, '^(%d+) ')\n"                                           \
    "  local ct = redis.call('HGET', P .. 'ctypes:' .. id, seq)\n"                           \
    "  local meta = redis.call('HGET', P .. 'mmeta:' .. id, seq) or '0 0'\n"                 \
    "  local ed = redis.call('HGET', P .. 'medit:' .. id, seq) or '0 0 0'\n"                 \
    "  return (ct and #ct or -1) .. ' ' .. (ct or '') .. meta .. ' ' .. ed .. ' ' .. enc\n" \
    "end\n"                                                                                  \
    "local function room(id, user)\n"                                                        \
    "  local k = P .. 'room:' .. id\n"                                                       \
    "  local r = redis.call('HMGET', k, 'kind', 'state', 'title', 'owner', 'agent',\n"       \
    "                       'created_ms', 'assigned_ms', 'last_seq', 'closed_ms',\n"         \
    "                       'rating', 'rating_comment', 'rated_ms', 'topic')\n"               \
    "  if not r[1] then return false end\n"                                                  \
    "  local read, last = false, false\n"                                                    \
    "  if user then\n"                                                                       \
    "    read = redis.call('HGET', P .. 'marks:' .. id, user) or '0'\n"                      \
    "    if tonumber(r[8]) > 0 then last = out(id, redis.call('LINDEX', P .. 'msgs:' .. id, -1)) end\n" \
    "  end\n"                                                                                \
    "  return {id, r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8],\n"                        \
    "          redis.call('SMEMBERS', P .. 'members:' .. id), read, last,\n"                 \
    "          redis.call('SMEMBERS', P .. 'admins:' .. id), r[9] or '0',\n"                \
    "          r[10] or '0', r[11] or false, r[12] or '0', r[13] or false}\n"                 \
    "end\n"                                                                                  \
    "local function join(id, user)\n"                                                        \
    "  redis.call('SADD', P .. 'members:' .. id, user)\n"                                    \
    "  redis.call('SADD', P .. 'urooms:' .. user, id)\n"                                     \
    "  if redis.call('ZSCORE', P .. 'joined:' .. id, user) then return end\n"                \
    "  local n = redis.call('HINCRBY', P .. 'room:' .. id, 'joins', 1)\n"                    \
    "  redis.call('ZADD', P .. 'joined:' .. id, n, user)\n"                                  \
    "end\n"                                                                                  \
    "local function leave(id, user)\n"                                                       \
    "  redis.call('SREM', P .. 'members:' .. id, user)\n"                                    \
    "  redis.call('SREM', P .. 'urooms:' .. user, id)\n"                                     \
    "  redis.call('SREM', P .. 'admins:' .. id, user)\n"                                     \
    "  redis.call('ZREM', P .. 'joined:' .. id, user)\n"                                     \
    "end\n"                                                                                  \
    /* a group's owner left: the admin who joined first, else the member */                \
    /* who joined first, becomes the owner (and no admin) */                                 \
    "local function pass_ownership(id)\n"                                                    \
    "  local admins = P .. 'admins:' .. id\n"                                                \
    "  local best, brank, bscore\n"                                                          \
    "  for _, m in ipairs(redis.call('SMEMBERS', P .. 'members:' .. id)) do\n"               \
    "    local mr = redis.call('SISMEMBER', admins, m)\n"                                    \
    "    local ms = tonumber(redis.call('ZSCORE', P .. 'joined:' .. id, m) or '0')\n"        \
    "    if not best or mr > brank or (mr == brank and (ms < bscore or (ms == bscore and m < best))) then\n" \
    "      best, brank, bscore = m, mr, ms\n"                                                \
    "    end\n"                                                                              \
    "  end\n"                                                                                \
    "  if best then\n"                                                                       \
    "    redis.call('HSET', P .. 'room:' .. id, 'owner', best)\n"                            \
    "    redis.call('SREM', admins, best)\n"                                                 \
    "  end\n"                                                                                \
    "end\n"                                                                                  \
    "local function drop(id)\n"                                                              \
    "  local k = P .. 'room:' .. id\n"                                                       \
    "  local r = redis.call('HMGET', k, 'kind', 'agent', 'unique_key')\n"                    \
    "  for _, m in ipairs(redis.call('SMEMBERS', P .. 'members:' .. id)) do\n"               \
    "    redis.call('SREM', P .. 'urooms:' .. m, id)\n"                                      \
    "  end\n"                                                                                \
    "  if r[2] then redis.call('SREM', P .. 'agent:' .. r[2], id) end\n"                     \
    "  if r[3] and redis.call('GET', P .. 'ukey:' .. r[3]) == id then\n"                     \
    "    redis.call('DEL', P .. 'ukey:' .. r[3])\n"                                          \
    "  end\n"                                                                                \
    "  for _, s in ipairs(redis.call('SMEMBERS', P .. 'rxs:' .. id)) do\n"                  \
    "    redis.call('DEL', P .. 'rx:' .. id .. ':' .. s)\n"                                  \
    "  end\n"                                                                                \
    "  redis.call('DEL', P .. 'rxs:' .. id)\n"                                               \
    "  redis.call('ZREM', P .. 'rooms', id)\n"                                               \
    "  redis.call('ZREM', P .. 'queue', id)\n"                                               \
    "  redis.call('ZREM', P .. 'closed', id)\n"                                              \
    "  redis.call('DEL', k, P .. 'members:' .. id, P .. 'msgs:' .. id, P .. 'cids:' .. id,\n" \
    "             P .. 'ctypes:' .. id, P .. 'mmeta:' .. id, P .. 'marks:' .. id,\n"                \
    "             P .. 'medit:' .. id, P .. 'revs:' .. id,\n"                                    \
    "             P .. 'admins:' .. id, P .. 'joined:' .. id)\n"                                 \
    "end\n"

/* ARGV: P id kind state title? owner? agent? created assigned ukey? topic? members... */
#define LUA_ROOM_CREATE                                                                      \
    LUA_PRELUDE                                                                              \
    "local id, kind, state = ARGV[2], ARGV[3], ARGV[4]\n"                                    \
    "local title, owner, agent, ukey = opt(ARGV[5]), opt(ARGV[6]), opt(ARGV[7]), opt(ARGV[10])\n" \
    "if ukey then\n"                                                                         \
    "  local other = redis.call('GET', P .. 'ukey:' .. ukey)\n"                              \
    "  if other then return {'exists', room(other)} end\n"                                   \
    "end\n"                                                                                  \
    "local k = P .. 'room:' .. id\n"                                                         \
    "if redis.call('EXISTS', k) == 1 then return {'exists', room(id)} end\n"                 \
    "local h = {'kind', kind, 'state', state, 'created_ms', ARGV[8], 'assigned_ms', ARGV[9],\n" \
    "           'last_seq', 0}\n"                                                            \
    "if title then table.insert(h, 'title') table.insert(h, title) end\n"                    \
    "if owner then table.insert(h, 'owner') table.insert(h, owner) end\n"                    \
    "if agent then table.insert(h, 'agent') table.insert(h, agent) end\n"                    \
    "if ukey then table.insert(h, 'unique_key') table.insert(h, ukey) end\n"                 \
    "local topic = opt(ARGV[11])\n"                                                          \
    "if topic then table.insert(h, 'topic') table.insert(h, topic) end\n"                    \
    "redis.call('HSET', k, unpack(h))\n"                                                     \
    "for i = 12, #ARGV do join(id, ARGV[i]) end\n"                                           \
    "redis.call('ZADD', P .. 'rooms', ARGV[8], id)\n"                                        \
    "if kind == '1' and state == '1' then redis.call('ZADD', P .. 'queue', ARGV[8], id) end\n" \
    "if agent then redis.call('SADD', P .. 'agent:' .. agent, id) end\n"                     \
    "if ukey then redis.call('SET', P .. 'ukey:' .. ukey, id) end\n"                         \
    "return {'ok', room(id)}\n"

/* ARGV: P id user? */
#define LUA_ROOM_GET                                                                         \
    LUA_PRELUDE                                                                              \
    "local r = room(ARGV[2], opt(ARGV[3]))\n"                                                \
    "if not r then return {'notfound'} end\n"                                                \
    "return {'ok', r}\n"

/* ARGV: P member? kind state agent? for_user? limit. Oldest created first. */
#define LUA_ROOM_LIST                                                                        \
    LUA_PRELUDE                                                                              \
    "local member, kind, state, agent = opt(ARGV[2]), ARGV[3], ARGV[4], opt(ARGV[5])\n"      \
    "local user, limit = opt(ARGV[6]), tonumber(ARGV[7])\n"                                  \
    "local ids\n"                                                                            \
    "if member then ids = redis.call('SMEMBERS', P .. 'urooms:' .. member)\n"                \
    "elseif agent then ids = redis.call('SMEMBERS', P .. 'agent:' .. agent)\n"               \
    "elseif kind == '1' and state == '1' then ids = redis.call('ZRANGE', P .. 'queue', 0, -1)\n" \
    "else ids = redis.call('ZRANGE', P .. 'rooms', 0, -1) end\n"                             \
    "local rows = {}\n"                                                                      \
    "for _, id in ipairs(ids) do\n"                                                          \
    "  local r = redis.call('HMGET', P .. 'room:' .. id, 'kind', 'state', 'agent', 'created_ms')\n" \
    "  local ok = r[1] and (kind == '0' or r[1] == kind) and (state == '0' or r[2] == state)\n" \
    "  if ok and agent then ok = r[3] == agent end\n"                                        \
    "  if ok and member then ok = redis.call('SISMEMBER', P .. 'members:' .. id, member) == 1 end\n" \
    "  if ok then table.insert(rows, {id, tonumber(r[4])}) end\n"                            \
    "end\n"                                                                                  \
    "table.sort(rows, function(a, b)\n"                                                      \
    "  if a[2] ~= b[2] then return a[2] < b[2] end\n"                                        \
    "  return a[1] < b[1]\n"                                                                 \
    "end)\n"                                                                                 \
    "local out = {}\n"                                                                       \
    "for i = 1, math.min(#rows, limit) do out[i] = room(rows[i][1], user) end\n"             \
    "return {'ok', out}\n"

/* ARGV: P id agent now */
#define LUA_ROOM_CLAIM                                                                       \
    LUA_PRELUDE                                                                              \
    "local id, agent = ARGV[2], ARGV[3]\n"                                                   \
    "local k = P .. 'room:' .. id\n"                                                         \
    "local r = redis.call('HMGET', k, 'kind', 'state')\n"                                    \
    "if not r[1] then return {'notfound'} end\n"                                             \
    "if r[1] ~= '1' or r[2] ~= '1' then return {'conflict', room(id)} end\n"                 \
    "redis.call('HSET', k, 'state', 2, 'agent', agent, 'assigned_ms', ARGV[4])\n"            \
    "join(id, agent)\n"                                                                      \
    "redis.call('SADD', P .. 'agent:' .. agent, id)\n"                                       \
    "redis.call('ZREM', P .. 'queue', id)\n"                                                 \
    "return {'ok', room(id)}\n"

/* ARGV: P id agent */
#define LUA_ROOM_COMPLETE                                                                    \
    LUA_PRELUDE                                                                              \
    "local id, agent = ARGV[2], ARGV[3]\n"                                                   \
    "local k = P .. 'room:' .. id\n"                                                         \
    "local r = redis.call('HMGET', k, 'kind', 'state', 'agent', 'unique_key')\n"             \
    "if not r[1] then return {'notfound'} end\n"                                             \
    "if r[2] ~= '2' or r[3] ~= agent then return {'conflict', room(id)} end\n"               \
    "redis.call('HSET', k, 'state', 3, 'closed_ms', ARGV[4])\n"                              \
    "if r[4] then\n"                                                                         \
    "  if redis.call('GET', P .. 'ukey:' .. r[4]) == id then redis.call('DEL', P .. 'ukey:' .. r[4]) end\n" \
    "  redis.call('HDEL', k, 'unique_key')\n"                                                \
    "end\n"                                                                                  \
    "return {'ok', room(id)}\n"

/* ARGV: P id */
#define LUA_ROOM_DELETE                                                                      \
    LUA_PRELUDE                                                                              \
    "local id = ARGV[2]\n"                                                                   \
    "if redis.call('EXISTS', P .. 'room:' .. id) == 0 then return {'notfound'} end\n"        \
    "drop(id)\n"                                                                             \
    "return {'ok'}\n"

/* ARGV: P id user add(1)/remove(0) */
#define LUA_MEMBER                                                                           \
    LUA_PRELUDE                                                                              \
    "local id, user = ARGV[2], ARGV[3]\n"                                                    \
    "if redis.call('EXISTS', P .. 'room:' .. id) == 0 then return {'notfound'} end\n"        \
    "if ARGV[4] == '1' then join(id, user) else leave(id, user) end\n"                       \
    "return {'ok'}\n"

/* ARGV: P id what user? role title? actor? actor_min outrank(1/0). The
 * answers of plugin.h's group_change, decided in one script. */
#define LUA_GROUP                                                                            \
    LUA_PRELUDE                                                                              \
    "local id, what, user, role = ARGV[2], tonumber(ARGV[3]), opt(ARGV[4]), tonumber(ARGV[5])\n" \
    "local title, actor, amin, outrank = opt(ARGV[6]), opt(ARGV[7]), tonumber(ARGV[8]), ARGV[9] == '1'\n" \
    "local k = P .. 'room:' .. id\n"                                                         \
    "local r = redis.call('HMGET', k, 'kind', 'owner')\n"                                    \
    "if not r[1] then return {'notfound'} end\n"                                             \
    "if r[1] ~= '3' then return {'invalid'} end\n"                                           \
    "local owner, admins = r[2], P .. 'admins:' .. id\n"                                     \
    "local function role_of(x)\n"                                                            \
    "  if not x or redis.call('SISMEMBER', P .. 'members:' .. id, x) == 0 then return 0 end\n" \
    "  if x == owner then return 3 end\n"                                                    \
    "  if redis.call('SISMEMBER', admins, x) == 1 then return 2 end\n"                       \
    "  return 1\n"                                                                           \
    "end\n"                                                                                  \
    "local u = role_of(user)\n"                                                              \
    "if actor then\n"                                                                        \
    "  local a = role_of(actor)\n"                                                           \
    "  if a < amin or (outrank and a <= u) then return {'denied', room(id)} end\n"           \
    "end\n"                                                                                  \
    "if what == 1 then\n"                                                                    \
    "  if u > 0 then return {'exists', room(id)} end\n"                                      \
    "  join(id, user)\n"                                                                     \
    "elseif what == 2 then\n"                                                                \
    "  if u == 0 then return {'conflict', room(id)} end\n"                                   \
    "  leave(id, user)\n"                                                                    \
    "  if u == 3 then pass_ownership(id) end\n"                                              \
    "elseif what == 3 then\n"                                                                \
    "  if u == 0 or (u == 3 and role ~= 3) then return {'conflict', room(id)} end\n"         \
    "  if u == role then return {'exists', room(id)} end\n"                                  \
    "  if role == 3 then\n"                                                                  \
    "    if owner and role_of(owner) > 0 then redis.call('SADD', admins, owner) end\n"       \
    "    redis.call('SREM', admins, user)\n"                                                 \
    "    redis.call('HSET', k, 'owner', user)\n"                                             \
    "  elseif role == 2 then redis.call('SADD', admins, user)\n"                             \
    "  elseif role == 1 then redis.call('SREM', admins, user)\n"                             \
    "  else return {'invalid'} end\n"                                                        \
    "elseif what == 4 and title then\n"                                                      \
    "  redis.call('HSET', k, 'title', title)\n"                                              \
    "elseif what == 5 then\n"                                                                \
    "  local was = room(id)\n"                                                               \
    "  drop(id)\n"                                                                           \
    "  return {'ok', was}\n"                                                                 \
    "else\n"                                                                                 \
    "  return {'invalid'}\n"                                                                 \
    "end\n"                                                                                  \
    "return {'ok', room(id)}\n"

/* ARGV: P room sender client_id? ts body content_type? kind reply_to */
#define LUA_APPEND                                                                           \
    LUA_PRELUDE                                                                              \
    "local id, sender, cid = ARGV[2], ARGV[3], opt(ARGV[4])\n"                               \
    "local k = P .. 'room:' .. id\n"                                                         \
    "if redis.call('EXISTS', k) == 0 then return {'notfound'} end\n"                         \
    "if cid then\n"                                                                          \
    "  local seq = redis.call('HGET', P .. 'cids:' .. id, sender .. '\\031' .. cid)\n"       \
    "  if seq then return {'exists', out(id, redis.call('LINDEX', P .. 'msgs:' .. id, tonumber(seq) - 1))} end\n" \
    "end\n"                                                                                  \
    "local seq = redis.call('HINCRBY', k, 'last_seq', 1)\n"                                  \
    "local mid = 'm' .. redis.call('INCR', P .. 'next_msg')\n"                               \
    "local enc = string.format('%d %s %d %d %d ', seq, ARGV[5], #mid, #sender, cid and #cid or -1)\n" \
    "  .. mid .. sender .. (cid or '') .. ARGV[6]\n"                                         \
    "redis.call('RPUSH', P .. 'msgs:' .. id, enc)\n"                                         \
    "if cid then redis.call('HSET', P .. 'cids:' .. id, sender .. '\\031' .. cid, seq) end\n" \
    "local ct = opt(ARGV[7])\n"                                                              \
    "if ct then redis.call('HSET', P .. 'ctypes:' .. id, seq, ct) end\n"                    \
    "if ARGV[8] ~= '0' or ARGV[9] ~= '0' then\n"                                             \
    "  redis.call('HSET', P .. 'mmeta:' .. id, seq, ARGV[8] .. ' ' .. ARGV[9])\n"            \
    "end\n"                                                                                  \
    "return {'ok', out(id, enc)}\n"

/* page(): the history page before / after / limit ask for of room id
 * (false: no room), and its reactions hints, one byte a message: 's' for
 * one in rxs:ID (it has reactions), 'n' for one without. Seqs are dense
 * from 1, so a page is an index range of the list. */
#define LUA_PAGE_PRELUDE                                                                     \
    LUA_PRELUDE                                                                              \
    "local function page(id, before, after, limit)\n"                                        \
    "  local last = redis.call('HGET', P .. 'room:' .. id, 'last_seq')\n"                    \
    "  if not last then return false end\n"                                                  \
    "  last = tonumber(last)\n"                                                              \
    "  local lo, hi\n"                                                                       \
    "  if before > 0 then\n"                                                                 \
    "    hi = math.min(before - 1, last)\n"                                                  \
    "    lo = math.max(hi - limit + 1, 1)\n"                                                 \
    "  else\n"                                                                               \
    "    lo = after + 1\n"                                                                   \
    "    hi = math.min(after + limit, last)\n"                                               \
    "  end\n"                                                                                \
    "  if hi < lo or limit == 0 then return {}, '' end\n"                                    \
    "  local msgs = redis.call('LRANGE', P .. 'msgs:' .. id, lo - 1, hi - 1)\n"              \
    "  if before > 0 then\n"                                                                 \
    "    local n = #msgs\n"                                                                  \
    "    for i = 1, math.floor(n / 2) do msgs[i], msgs[n - i + 1] = msgs[n - i + 1], msgs[i] end\n" \
    "  end\n"                                                                                \
    "  local rxs, hints = P .. 'rxs:' .. id, {}\n"                                           \
    "  for i = 1, #msgs do\n"                                                                \
    "    local seq = string.match(msgs[i], '^(%d+) ')\n"                                     \
    "    hints[i] = redis.call('SISMEMBER', rxs, seq) == 1 and 's' or 'n'\n"                 \
    "    msgs[i] = out(id, msgs[i])\n"                                                       \
    "  end\n"                                                                                \
    "  return msgs, table.concat(hints)\n"                                                   \
    "end\n"

/* ARGV: P room before after limit. */
#define LUA_HISTORY                                                                          \
    LUA_PAGE_PRELUDE                                                                         \
    "local msgs, hints = page(ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))\n" \
    "if not msgs then return {'notfound'} end\n"                                             \
    "return {'ok', msgs, hints}\n"

/* ARGV: P room before after limit. SDK 2.13: the room (as room_get without
 * a user) and its history page, of one moment. */
#define LUA_ROOM_PAGE                                                                        \
    LUA_PAGE_PRELUDE                                                                         \
    "local r = room(ARGV[2])\n"                                                              \
    "if not r then return {'notfound'} end\n"                                                \
    "local msgs, hints = page(ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))\n" \
    "return {'ok', r, msgs, hints}\n"

/* ARGV: P room user seq. Never lowers a mark, never past the last message. */
#define LUA_READ_MARK                                                                        \
    LUA_PRELUDE                                                                              \
    "local id, user = ARGV[2], ARGV[3]\n"                                                    \
    "local last = redis.call('HGET', P .. 'room:' .. id, 'last_seq')\n"                      \
    "if not last then return {'notfound'} end\n"                                             \
    "local seq = math.min(tonumber(ARGV[4]), tonumber(last))\n"                              \
    "local cur = tonumber(redis.call('HGET', P .. 'marks:' .. id, user) or '0')\n"           \
    "if seq > cur then redis.call('HSET', P .. 'marks:' .. id, user, seq) end\n"             \
    "return {'ok'}\n"

/* Added in minor 2: transcripts. */

/* ARGV: P id now */
#define LUA_ROOM_CLOSE                                                                       \
    LUA_PRELUDE                                                                              \
    "local id = ARGV[2]\n"                                                                   \
    "local k = P .. 'room:' .. id\n"                                                         \
    "local r = redis.call('HMGET', k, 'kind', 'state', 'unique_key')\n"                      \
    "if not r[1] then return {'notfound'} end\n"                                             \
    "if r[1] ~= '1' or r[2] == '4' then return {'conflict', room(id)} end\n"                 \
    "redis.call('HSET', k, 'state', 4, 'closed_ms', ARGV[3])\n"                              \
    "if r[3] then\n"                                                                         \
    "  if redis.call('GET', P .. 'ukey:' .. r[3]) == id then redis.call('DEL', P .. 'ukey:' .. r[3]) end\n" \
    "  redis.call('HDEL', k, 'unique_key')\n"                                                \
    "end\n"                                                                                  \
    "redis.call('ZREM', P .. 'queue', id)\n"                                                 \
    "redis.call('ZADD', P .. 'closed', ARGV[3], id)\n"                                       \
    "return {'ok', room(id)}\n"

/* ARGV: P before limit. The oldest closed rooms first, closed_ms < before;
 * answers their count, then their ids (room_purge_ids). */
#define LUA_ROOM_PURGE                                                                       \
    LUA_PRELUDE                                                                              \
    "local ids = redis.call('ZRANGEBYSCORE', P .. 'closed', '-inf', '(' .. ARGV[2],\n"       \
    "                       'LIMIT', 0, tonumber(ARGV[3]))\n"                                \
    "local out = {'ok', #ids}\n"                                                             \
    "for _, id in ipairs(ids) do drop(id); out[#out + 1] = id end\n"                         \
    "return out\n"

/* ARGV: P user. Walks the messages of each room of the user (a page at a
 * time), so its cost is the length of those rooms. */
#define LUA_USER_ERASE                                                                       \
    LUA_PRELUDE                                                                              \
    "local user = ARGV[2]\n"                                                                 \
    "local gone, erased, left = 0, 0, 0\n"                                                   \
    "for _, id in ipairs(redis.call('SMEMBERS', P .. 'urooms:' .. user)) do\n"               \
    "  local k = P .. 'room:' .. id\n"                                                       \
    "  local r = redis.call('HMGET', k, 'kind', 'owner', 'unique_key')\n"                    \
    "  if r[1] == '1' and r[2] == user then\n"                                               \
    "    drop(id)\n"                                                                         \
    "    gone = gone + 1\n"                                                                  \
    "  elseif r[1] then\n"                                                                   \
    "    local mk = P .. 'msgs:' .. id\n"                                                    \
    "    local n = redis.call('LLEN', mk)\n"                                                 \
    "    for i = 0, n - 1, 500 do\n"                                                         \
    "      for j, enc in ipairs(redis.call('LRANGE', mk, i, i + 499)) do\n"                  \
    "        local seq, ts, il, sl, cl, p = string.match(enc, '^(%d+) (%-?%d+) (%d+) (%d+) (%-?%d+) ()')\n" \
    "        il, sl, cl = tonumber(il), tonumber(sl), tonumber(cl)\n"                        \
    "        if sl == #user and string.sub(enc, p + il, p + il + sl - 1) == user then\n"     \
    "          local mid = string.sub(enc, p, p + il - 1)\n"                                 \
    "          if cl >= 0 then\n"                                                            \
    "            local cid = string.sub(enc, p + il + sl, p + il + sl + cl - 1)\n"           \
    "            redis.call('HDEL', P .. 'cids:' .. id, user .. '\\031' .. cid)\n"            \
    "          end\n"                                                                        \
    "          redis.call('HDEL', P .. 'ctypes:' .. id, seq)\n"                             \
    "          redis.call('HDEL', P .. 'mmeta:' .. id, seq)\n"                              \
    "          redis.call('LSET', mk, i + j - 1, seq .. ' ' .. ts .. ' ' .. #mid .. ' 0 -1 ' .. mid)\n" \
    "          erased = erased + 1\n"                                                        \
    "        end\n"                                                                          \
    "      end\n"                                                                            \
    "    end\n"                                                                              \
    "    for _, s in ipairs(redis.call('SMEMBERS', P .. 'rxs:' .. id)) do\n"                  \
    "      local rk = P .. 'rx:' .. id .. ':' .. s\n"                                         \
    "      for _, f in ipairs(redis.call('HKEYS', rk)) do\n"                                  \
    "        local l, q = string.match(f, '^(%d+):()')\n"                                     \
    "        if string.sub(f, q + tonumber(l)) == user then redis.call('HDEL', rk, f) end\n"  \
    "      end\n"                                                                            \
    "      if redis.call('EXISTS', rk) == 0 then redis.call('SREM', P .. 'rxs:' .. id, s) end\n" \
    "    end\n"                                                                              \
    "    redis.call('HDEL', P .. 'marks:' .. id, user)\n"                                    \
    "    leave(id, user)\n"                                                                  \
    "    if r[1] == '3' and r[2] == user then pass_ownership(id) end\n"                      \
    "    if r[1] == '2' and r[3] then\n"                                                     \
    "      if redis.call('GET', P .. 'ukey:' .. r[3]) == id then redis.call('DEL', P .. 'ukey:' .. r[3]) end\n" \
    "      redis.call('HDEL', k, 'unique_key')\n"                                            \
    "    end\n"                                                                              \
    "    left = left + 1\n"                                                                  \
    "  end\n"                                                                                \
    "end\n"                                                                                  \
    "redis.call('DEL', P .. 'urooms:' .. user)\n"                                            \
    "return {'ok', {gone, erased, left}}\n"

/* ARGV: P room seq what body ct? now. what 1: edit (body, ct), 2: delete.
 * The room's last_rev gives the change its rev; seqs and last_seq stay. */
#define LUA_MESSAGE_EDIT                                                                     \
    LUA_PRELUDE                                                                              \
    "local id, seq, what = ARGV[2], tonumber(ARGV[3]), ARGV[4]\n"                             \
    "local k = P .. 'room:' .. id\n"                                                         \
    "if redis.call('EXISTS', k) == 0 or seq < 1 then return {'notfound'} end\n"             \
    "local mk = P .. 'msgs:' .. id\n"                                                        \
    "local enc = redis.call('LINDEX', mk, seq - 1)\n"                                         \
    "if not enc then return {'notfound'} end\n"                                              \
    "local _, _, il, sl, cl, p = string.match(enc, '^(%d+) (%-?%d+) (%d+) (%d+) (%-?%d+) ()')\n" \
    "il, sl, cl = tonumber(il), tonumber(sl), tonumber(cl)\n"                                \
    "local old = redis.call('HGET', P .. 'medit:' .. id, seq)\n"                             \
    "if sl == 0 or (old and string.match(old, ' 1$')) then return {'conflict', out(id, enc)} end\n" \
    "local rev = redis.call('HINCRBY', k, 'last_rev', 1)\n"                                  \
    "local head = string.sub(enc, 1, p + il + sl + math.max(cl, 0) - 1)\n"                   \
    "local del = 0\n"                                                                        \
    "if what == '1' then\n"                                                                  \
    "  enc = head .. ARGV[5]\n"                                                              \
    "  local ct = opt(ARGV[6])\n"                                                            \
    "  if ct then redis.call('HSET', P .. 'ctypes:' .. id, seq, ct)\n"                      \
    "  else redis.call('HDEL', P .. 'ctypes:' .. id, seq) end\n"                            \
    "else\n"                                                                                 \
    "  enc = head\n"                                                                         \
    "  del = 1\n"                                                                            \
    "end\n"                                                                                  \
    "redis.call('LSET', mk, seq - 1, enc)\n"                                                 \
    "redis.call('HSET', P .. 'medit:' .. id, seq, rev .. ' ' .. ARGV[7] .. ' ' .. del)\n"    \
    "redis.call('ZADD', P .. 'revs:' .. id, rev, seq)\n"                                     \
    "return {'ok', out(id, enc)}\n"

/* ARGV: P room after_rev limit: the changed messages in rev order. */
#define LUA_MESSAGE_REVISIONS                                                                \
    LUA_PRELUDE                                                                              \
    "local id = ARGV[2]\n"                                                                   \
    "local seqs = redis.call('ZRANGEBYSCORE', P .. 'revs:' .. id, '(' .. ARGV[3], '+inf', 'LIMIT', 0, tonumber(ARGV[4]))\n" \
    "local page = {}\n"                                                                      \
    "for i, seq in ipairs(seqs) do page[i] = out(id, redis.call('LINDEX', P .. 'msgs:' .. id, tonumber(seq) - 1)) end\n" \
    "return {'ok', page}\n"

/* SDK 2.3: the support desk. An agent's open rooms: those of agent:USER
 * still ASSIGNED to them. */
#define LUA_DESK_PRELUDE                                                                     \
    LUA_PRELUDE                                                                              \
    "local function open_of(agent)\n"                                                        \
    "  local n = 0\n"                                                                        \
    "  for _, rid in ipairs(redis.call('SMEMBERS', P .. 'agent:' .. agent)) do\n"            \
    "    local r = redis.call('HMGET', P .. 'room:' .. rid, 'kind', 'state', 'agent')\n"     \
    "    if r[1] == '1' and r[2] == '2' and r[3] == agent then n = n + 1 end\n"              \
    "  end\n"                                                                                \
    "  return n\n"                                                                           \
    "end\n"                                                                                  \
    "local function assign(id, agent, now)\n"                                                \
    "  redis.call('HSET', P .. 'room:' .. id, 'state', 2, 'agent', agent, 'assigned_ms', now)\n" \
    "  join(id, agent)\n"                                                                    \
    "  redis.call('SADD', P .. 'agent:' .. agent, id)\n"                                     \
    "  redis.call('ZREM', P .. 'queue', id)\n"                                               \
    "end\n"                                                                                  \
    "local function enqueue(id)\n"                                                           \
    "  local k = P .. 'room:' .. id\n"                                                       \
    "  redis.call('HSET', k, 'state', 1, 'assigned_ms', 0)\n"                                \
    "  redis.call('HDEL', k, 'agent')\n"                                                     \
    "  redis.call('ZADD', P .. 'queue', redis.call('HGET', k, 'created_ms'), id)\n"          \
    "end\n"

/* ARGV: P id agent max now */
#define LUA_ROOM_CLAIM_LIMITED                                                               \
    LUA_DESK_PRELUDE                                                                         \
    "local id, agent, max = ARGV[2], ARGV[3], tonumber(ARGV[4])\n"                           \
    "local r = redis.call('HMGET', P .. 'room:' .. id, 'kind', 'state')\n"                   \
    "if not r[1] then return {'notfound'} end\n"                                             \
    "if r[1] ~= '1' or r[2] ~= '1' then return {'conflict', room(id)} end\n"                 \
    "if max > 0 and open_of(agent) >= max then return {'limit', room(id)} end\n"             \
    "assign(id, agent, ARGV[5])\n"                                                           \
    "return {'ok', room(id)}\n"

/* ARGV: P id from to? now */
#define LUA_ROOM_TRANSFER                                                                    \
    LUA_DESK_PRELUDE                                                                         \
    "local id, from, to = ARGV[2], ARGV[3], opt(ARGV[4])\n"                                  \
    "local r = redis.call('HMGET', P .. 'room:' .. id, 'kind', 'state', 'agent')\n"          \
    "if not r[1] then return {'notfound'} end\n"                                             \
    "if r[1] ~= '1' or r[2] ~= '2' or r[3] ~= from then return {'conflict', room(id)} end\n" \
    "if to ~= from then\n"                                                                   \
    "  leave(id, from)\n"                                                                    \
    "  redis.call('SREM', P .. 'agent:' .. from, id)\n"                                      \
    "end\n"                                                                                  \
    "if to then assign(id, to, ARGV[5]) else enqueue(id) end\n"                              \
    "return {'ok', room(id)}\n"

/* ARGV: P id ukey? after agent? max now */
#define LUA_ROOM_REOPEN                                                                      \
    LUA_DESK_PRELUDE                                                                         \
    "local id, ukey, agent, max = ARGV[2], opt(ARGV[3]), opt(ARGV[5]), tonumber(ARGV[6])\n" \
    "local k = P .. 'room:' .. id\n"                                                         \
    "local r = redis.call('HMGET', k, 'kind', 'state', 'closed_ms')\n"                       \
    "if not r[1] then return {'notfound'} end\n"                                             \
    "if r[1] ~= '1' or r[2] ~= '3' or tonumber(r[3] or '0') < tonumber(ARGV[4]) then\n"     \
    "  return {'conflict', room(id)}\n"                                                      \
    "end\n"                                                                                  \
    "if ukey then\n"                                                                         \
    "  local other = redis.call('GET', P .. 'ukey:' .. ukey)\n"                              \
    "  if other then return {'exists', room(other)} end\n"                                   \
    "  redis.call('SET', P .. 'ukey:' .. ukey, id)\n"                                        \
    "  redis.call('HSET', k, 'unique_key', ukey)\n"                                          \
    "end\n"                                                                                  \
    "redis.call('HSET', k, 'closed_ms', 0)\n"                                                \
    "if agent and (max <= 0 or open_of(agent) < max) then\n"                                 \
    "  assign(id, agent, ARGV[7])\n"                                                         \
    "else\n"                                                                                 \
    "  local was = redis.call('HGET', k, 'agent')\n"                                         \
    "  if was then redis.call('SREM', P .. 'agent:' .. was, id) end\n"                       \
    "  enqueue(id)\n"                                                                        \
    "end\n"                                                                                  \
    "return {'ok', room(id)}\n"

/* SDK 2.5: reactions. counts() answers a message's reactions as a flat
 * list: seq, emoji, count, me (1/0), for each emoji; the caller sorts. */
#define LUA_REACT_PRELUDE                                                                    \
    LUA_PRELUDE                                                                              \
    "local function counts(id, seq, user, acc)\n"                                            \
    "  local by, order = {}, {}\n"                                                           \
    "  for _, f in ipairs(redis.call('HKEYS', P .. 'rx:' .. id .. ':' .. seq)) do\n"         \
    "    local l, q = string.match(f, '^(%d+):()')\n"                                        \
    "    l = tonumber(l)\n"                                                                  \
    "    local e = string.sub(f, q, q + l - 1)\n"                                            \
    "    if not by[e] then by[e] = {0, 0}; order[#order + 1] = e end\n"                      \
    "    by[e][1] = by[e][1] + 1\n"                                                          \
    "    if user and string.sub(f, q + l) == user then by[e][2] = 1 end\n"                   \
    "  end\n"                                                                                \
    "  for _, e in ipairs(order) do\n"                                                       \
    "    acc[#acc + 1] = tostring(seq); acc[#acc + 1] = e\n"                                 \
    "    acc[#acc + 1] = by[e][1]; acc[#acc + 1] = by[e][2]\n"                               \
    "  end\n"                                                                                \
    "  return acc\n"                                                                         \
    "end\n"                                                                                  \

/* ARGV: P room seq user emoji add(1/0) max_distinct. */
#define LUA_REACTION_CHANGE                                                                  \
    LUA_REACT_PRELUDE                                                                        \
    "local id, seq, user, emoji, add, max = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6] == '1', tonumber(ARGV[7])\n"\
    "if redis.call('EXISTS', P .. 'room:' .. id) == 0 or seq < 1 then return {'notfound'} end\n"\
    "local enc = redis.call('LINDEX', P .. 'msgs:' .. id, seq - 1)\n"                        \
    "if not enc then return {'notfound'} end\n"                                              \
    "local _, _, il, sl = string.match(enc, '^(%d+) (%-?%d+) (%d+) (%d+) ')\n"               \
    "local old = redis.call('HGET', P .. 'medit:' .. id, seq)\n"                             \
    "if tonumber(sl) == 0 or (old and string.match(old, ' 1$')) then return {'conflict'} end\n"\
    "local rk = P .. 'rx:' .. id .. ':' .. seq\n"                                            \
    "local field = #emoji .. ':' .. emoji .. user\n"                                         \
    "local st = 'ok'\n"                                                                      \
    "if add then\n"                                                                          \
    "  if redis.call('HEXISTS', rk, field) == 1 then\n"                                      \
    "    st = 'exists'\n"                                                                    \
    "  else\n"                                                                               \
    "    if max > 0 then\n"                                                                  \
    "      local seen, n, held = {}, 0, false\n"                                             \
    "      for _, f in ipairs(redis.call('HKEYS', rk)) do\n"                                 \
    "        local l, q = string.match(f, '^(%d+):()')\n"                                    \
    "        local e = string.sub(f, q, q + tonumber(l) - 1)\n"                              \
    "        if e == emoji then held = true end\n"                                           \
    "        if not seen[e] then seen[e] = true; n = n + 1 end\n"                            \
    "      end\n"                                                                            \
    "      if not held and n >= max then st = 'limit' end\n"                                 \
    "    end\n"                                                                              \
    "    if st == 'ok' then\n"                                                               \
    "      redis.call('HSET', rk, field, 1)\n"                                               \
    "      redis.call('SADD', P .. 'rxs:' .. id, seq)\n"                                     \
    "    end\n"                                                                              \
    "  end\n"                                                                                \
    "elseif redis.call('HDEL', rk, field) == 0 then\n"                                       \
    "  st = 'exists'\n"                                                                      \
    "elseif redis.call('EXISTS', rk) == 0 then\n"                                            \
    "  redis.call('SREM', P .. 'rxs:' .. id, seq)\n"                                         \
    "end\n"                                                                                  \
    "return {st, counts(id, seq, user, {})}\n"                                               \

/* ARGV: P room for_user? seqs ("1,2,3"). */
#define LUA_REACTION_LIST                                                                    \
    LUA_REACT_PRELUDE                                                                        \
    "local id, user = ARGV[2], opt(ARGV[3])\n"                                               \
    "local acc = {}\n"                                                                       \
    "for s in string.gmatch(ARGV[4], '%d+') do counts(id, s, user, acc) end\n"               \
    "return {'ok', acc}\n"                                                                   \

/* ARGV: P id rating comment? now. SDK 2.6: a completed or closed support
 * room rated once. */
#define LUA_ROOM_RATE                                                                        \
    LUA_PRELUDE                                                                              \
    "local id, comment = ARGV[2], opt(ARGV[4])\n"                                            \
    "local k = P .. 'room:' .. id\n"                                                         \
    "local r = redis.call('HMGET', k, 'kind', 'state', 'rating')\n"                          \
    "if not r[1] then return {'notfound'} end\n"                                             \
    "if r[1] ~= '1' or (r[2] ~= '3' and r[2] ~= '4') or tonumber(r[3] or '0') ~= 0 then\n"  \
    "  return {'conflict', room(id)}\n"                                                      \
    "end\n"                                                                                  \
    "redis.call('HSET', k, 'rating', ARGV[3], 'rated_ms', ARGV[5])\n"                        \
    "if comment then redis.call('HSET', k, 'rating_comment', comment) end\n"                 \
    "return {'ok', room(id)}\n"

/* Added in SDK 2.4: search. ARGV: P query query_json budget limit
 * cursor_room cursor_ts cursor_seq room...; query and query_json (optional)
 * lowered in A-Z already. Reads every
 * message of the rooms named (no index: the cost is their history, inside
 * one script, which holds Redis meanwhile), refused ('limit') before it
 * reads more than `budget` messages. The page: {room, message} pairs,
 * newest first by (ts, room, seq), rooms compared byte by byte (Lua's <
 * on strings follows the locale). A deleted message's body is empty, an
 * erased one's sender: neither matches. */
#define LUA_MESSAGE_SEARCH                                                                   \
    LUA_PRELUDE                                                                              \
    "local q, qj, budget, limit = ARGV[2], opt(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])\n" \
    "local croom, cts, cseq = opt(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])\n"          \
    "local function lt(a, b)\n"                                                              \
    "  for k = 1, math.min(#a, #b) do\n"                                                     \
    "    local x, y = string.byte(a, k), string.byte(b, k)\n"                                \
    "    if x ~= y then return x < y end\n"                                                  \
    "  end\n"                                                                                \
    "  return #a < #b\n"                                                                     \
    "end\n"                                                                                  \
    "local function newer(a, b)\n"                                                           \
    "  if a[1] ~= b[1] then return a[1] > b[1] end\n"                                        \
    "  if a[2] ~= b[2] then return lt(b[2], a[2]) end\n"                                     \
    "  return a[3] > b[3]\n"                                                                 \
    "end\n"                                                                                  \
    "local cur = croom and {cts, croom, cseq}\n"                                             \
    "local hits, seen = {}, {}\n"                                                            \
    "for r = 9, #ARGV do\n"                                                                  \
    "  local id = ARGV[r]\n"                                                                 \
    "  if not seen[id] then\n"                                                               \
    "    seen[id] = true\n"                                                                  \
    "    local mk = P .. 'msgs:' .. id\n"                                                     \
    "    local n = redis.call('LLEN', mk)\n"                                                  \
    "    budget = budget - n\n"                                                               \
    "    if budget < 0 then return {'limit'} end\n"                                           \
    "    for i = 0, n - 1, 1000 do\n"                                                         \
    "      for _, enc in ipairs(redis.call('LRANGE', mk, i, i + 999)) do\n"                   \
    "        local seq, ts, il, sl, cl, p = string.match(enc, '^(%d+) (%-?%d+) (%d+) (%d+) (%-?%d+) ()')\n" \
    "        sl = tonumber(sl)\n"                                                             \
    "        if sl > 0 then\n"                                                                \
    "          local body = string.sub(enc, p + tonumber(il) + sl + math.max(tonumber(cl), 0))\n" \
    "          local low = string.lower(body)\n"                                               \
    "          if string.find(low, q, 1, true) or (qj and string.find(low, qj, 1, true)) then\n" \
    "            local h = {tonumber(ts), id, tonumber(seq), enc}\n"                          \
    "            if not cur or newer(cur, h) then hits[#hits + 1] = h end\n"                 \
    "          end\n"                                                                         \
    "        end\n"                                                                           \
    "      end\n"                                                                             \
    "    end\n"                                                                               \
    "  end\n"                                                                                 \
    "end\n"                                                                                   \
    "table.sort(hits, newer)\n"                                                               \
    "local page = {}\n"                                                                       \
    "for k = 1, math.min(limit, #hits) do page[k] = {hits[k][2], out(hits[k][2], hits[k][4])} end\n" \
    "return {'ok', page}\n"

/* ARGV: P desk shortcut title body by ms max. SDK 2.8: a canned reply
 * stored or replaced; a new shortcut refused at the desk's bound. Answers
 * {'ok', 1 new | 0 replaced} or {'limit'}. */
#define LUA_CANNED_PUT                                                                       \
    LUA_PRELUDE                                                                              \
    "local set = P .. 'canned:' .. ARGV[2]\n"                                                 \
    "local fresh = redis.call('ZSCORE', set, ARGV[3]) == false\n"                             \
    "local max = tonumber(ARGV[8])\n"                                                        \
    "if fresh and max > 0 and redis.call('ZCARD', set) >= max then return {'limit'} end\n"   \
    "redis.call('ZADD', set, 0, ARGV[3])\n"                                                   \
    "redis.call('HSET', P .. 'cannedr:' .. ARGV[2] .. ':' .. ARGV[3], 'title', ARGV[4],\n"    \
    "           'body', ARGV[5], 'by', ARGV[6], 'ms', ARGV[7])\n"                             \
    "return {'ok', fresh and 1 or 0}\n"

/* ARGV: P desk shortcut. */
#define LUA_CANNED_DELETE                                                                    \
    LUA_PRELUDE                                                                              \
    "if redis.call('ZREM', P .. 'canned:' .. ARGV[2], ARGV[3]) == 0 then return {'notfound'} end\n" \
    "redis.call('DEL', P .. 'cannedr:' .. ARGV[2] .. ':' .. ARGV[3])\n"                       \
    "return {'ok'}\n"

/* ARGV: P desk limit. Answers {'ok', {shortcut, title, body, by, ms, ...}}
 * in shortcut order. */
#define LUA_CANNED_LIST                                                                      \
    LUA_PRELUDE                                                                              \
    "local out = {}\n"                                                                        \
    "local scs = redis.call('ZRANGE', P .. 'canned:' .. ARGV[2], 0, tonumber(ARGV[3]) - 1)\n" \
    "for _, sc in ipairs(scs) do\n"                                                          \
    "  local h = redis.call('HMGET', P .. 'cannedr:' .. ARGV[2] .. ':' .. sc, 'title', 'body', 'by', 'ms')\n" \
    "  if h[1] then\n"                                                                       \
    "    table.insert(out, sc) table.insert(out, h[1]) table.insert(out, h[2])\n"             \
    "    table.insert(out, h[3]) table.insert(out, h[4])\n"                                   \
    "  end\n"                                                                                \
    "end\n"                                                                                  \
    "return {'ok', out}\n"

#endif
