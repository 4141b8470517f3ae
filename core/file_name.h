/* A file name from a client made safe to store and to show: only its last
 * path segment (after the last '/' or '\'), without control characters
 * (C0, DEL, C1), bidirectional overrides or bytes that are no UTF-8,
 * without leading dots and blanks and trailing dots and blanks, at most
 * FILE_NAME_MAX bytes, never cut inside a character. Korean, emoji and
 * every other printable character stay. Pure: unit-tested and fuzzed. */
#ifndef CHATD_FILE_NAME_H
#define CHATD_FILE_NAME_H

#include <stddef.h>

#define FILE_NAME_MAX 200

/* in[0..len) cleaned into out (cap > FILE_NAME_MAX), NUL-terminated; its
 * length, 0 when nothing is left (the caller names it). */
size_t file_name_clean(const char *in, size_t len, char *out, size_t cap);

/* An ASCII stand-in for a Content-Disposition filename="..." (for clients
 * without RFC 6266's filename*): every byte outside printable ASCII, every
 * '"', '\' and '%' becomes '_'. out has cap bytes. */
void file_name_ascii(const char *name, char *out, size_t cap);

#endif
