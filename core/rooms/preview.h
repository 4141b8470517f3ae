/* Previews: the start of a message's text, for notifications (in-band and
 * offline alike), cut after a number of user-perceived characters and never
 * inside one. Pure text functions: no JSON, no server.
 *
 * A "character" is an approximation of a Unicode extended grapheme cluster
 * (UAX #29) that covers what chat text holds:
 * - a code point and the combining marks after it (general categories Mn,
 *   Me, Mc of Unicode 14: "e" + U+0301 is one character), variation
 *   selectors, ZWNJ, emoji skin-tone modifiers and tag characters;
 * - emoji joined by ZWJ (U+200D), a pictographic code point after a ZWJ
 *   that follows a pictographic one (the family emoji is one character);
 * - regional indicators in pairs (a flag is one character);
 * - Hangul syllables spelled with conjoining jamo (L+ V+ T*, LV V* T*,
 *   LVT T*: U+1112 U+1161 U+11AB is one character);
 * - CR LF; any other control character stands alone.
 * Not covered: prepended concatenation marks (Arabic number signs and the
 * like start a character of their own) and Indic conjuncts (a virama joins
 * only as a mark, the consonant after it starts a new character);
 * "pictographic" is a coarse set of emoji blocks. Cutting there still keeps
 * whole code points, so the result is always valid UTF-8. */
#ifndef CHATD_PREVIEW_H
#define CHATD_PREVIEW_H
#include <stddef.h>

/* Bytes a preview may take per character: a preview of n characters is at
 * most PREVIEW_BYTES_PER_CHAR * n bytes, whatever the text (a message may be
 * a megabyte of marks on one letter). Text of any script gets its n
 * characters (one code point is at most 4 bytes), and so do letters with a
 * mark or two, emoji with a skin tone or a variation selector, and flags;
 * longer characters (ZWJ sequences such as the family emoji, 25 bytes, or a
 * Hangul syllable spelled in three jamo, 9 bytes) may get fewer. */
#define PREVIEW_BYTES_PER_CHAR 8

/* Bytes of the character at the start of s (n > 0 bytes there), or 0 when s
 * does not start with a valid UTF-8 sequence. */
size_t preview_char_len(const char *s, size_t n);

/* The length in bytes of the preview of text (len bytes of UTF-8): its
 * first max_chars characters, as many of them as fit in max_bytes. Cuts
 * only between characters, except when the very first character is longer
 * than max_bytes (a letter under hundreds of marks): then between its code
 * points. Stops before the first byte that is not UTF-8. */
size_t preview_cut(const char *text, size_t len, size_t max_chars, size_t max_bytes);

/* The preview of text in max_chars characters (and PREVIEW_BYTES_PER_CHAR
 * bytes for each), NUL-terminated, malloc'd: the caller frees it. NULL only
 * when out of memory. */
char *preview_make(const char *text, size_t len, size_t max_chars);

#endif
