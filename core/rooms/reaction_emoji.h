/* What a reaction's emoji may be (docs/protocol.md, "Reactions"): a short
 * piece of non-ASCII text meant as one emoji. A pure rule over bytes, no
 * I/O: the rooms domain and its fuzz target (tests/fuzz) share it. */
#ifndef CHATD_REACTION_EMOJI_H
#define CHATD_REACTION_EMOJI_H

#include <stdbool.h>
#include <stddef.h>

/* NULL when emoji[0..len) is acceptable, else the sentence that refuses
 * it: 1..CHATD_REACTION_EMOJI_MAX bytes of UTF-8, no ASCII but the base of
 * a keycap (0-9 # * before U+FE0F or U+20E3), no control, space or format
 * character (but U+200D, the joiner), not starting with a joiner,
 * variation selector or keycap mark. */
const char *reaction_emoji_refusal(const char *emoji, size_t len);

#endif
