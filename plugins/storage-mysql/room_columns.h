/* The room columns the MariaDB plugin packs into one value and reads back:
 * the members column of a room look-up (GROUP_CONCAT of
 * "role:LENGTH:user_id") and the room carried by a page read (numbers,
 * then strings as "-" or "LENGTH:bytes", each followed by ','). Pure
 * parsing, no allocation: every pointer answered lies inside the input. */
#ifndef CHATD_MYSQL_ROOM_COLUMNS_H
#define CHATD_MYSQL_ROOM_COLUMNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The numbers that lead a page's room value: last_seq, reacted, kind,
 * state, created_ms, assigned_ms, closed_ms, rating, rated_ms. */
#define ROOM_VALUE_NUMS 9

/* One member at *p: its role and its user id's bytes (*u, *n); *p moves
 * past it. False when malformed or cut short. */
bool room_member_next(const char **p, const char *end, int64_t *role, const char **u, size_t *n);

/* The numbers of a room value s[0..len) into v (a negative one as its
 * two's complement), *rest after them. False when malformed. */
bool room_value_nums(const char *s, size_t len, uint64_t v[ROOM_VALUE_NUMS], const char **rest);

/* One string at *p: *s NULL for "-", else its bytes (*s, *n); *p moves
 * past its ','. False when malformed or cut short. */
bool room_value_str(const char **p, const char *end, const char **s, size_t *n);

#endif
