/* What a file's first bytes say it is, and an image's size in pixels:
 * the media types an attachment may have are those chatd can recognise
 * from their bytes (PNG, JPEG, GIF, WebP, PDF, UTF-8 text), so that a
 * client's Content-Type is never taken on its word. Pure: unit-tested and
 * fuzzed (tests/fuzz/file_types_fuzz.c). */
#ifndef CHATD_FILE_TYPES_H
#define CHATD_FILE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The bytes of a file's start that sniffing and sizing look at: a JPEG's
 * size may follow its metadata (EXIF), which stays well below this. */
#define FILE_HEAD_BYTES 65536

/* Whether chatd can recognise `type` (lower case, no parameters). */
bool file_type_known(const char *type);

/* The type the first n bytes of a file show, or NULL when none of the
 * known ones. `whole`: b is the whole file (a text cut at n bytes may end
 * inside a UTF-8 sequence when it is not). Text is valid UTF-8 without NUL
 * or other control characters than tab, line feed, carriage return and
 * form feed; an empty file is text. */
const char *file_type_sniff(const unsigned char *b, size_t n, bool whole);

/* A client's Content-Type as a bare media type: lower case, without
 * parameters and spaces, into out (cap bytes). "" for NULL or blank. */
void file_type_bare(const char *content_type, char *out, size_t cap);

/* An image's width and height from its first n bytes, by `type` (as
 * file_type_sniff answered it). false when they are not there, or zero. */
bool file_image_size(const unsigned char *b, size_t n, const char *type, uint32_t *width, uint32_t *height);

#endif
