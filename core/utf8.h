/* UTF-8 per RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF. */
#ifndef CHATD_UTF8_H
#define CHATD_UTF8_H
#include <stdbool.h>
#include <stddef.h>

/* Length of the sequence at s (n > 0 bytes there), 0 if none starts there. */
size_t utf8_seq(const unsigned char *s, size_t n);
bool utf8_valid(const unsigned char *s, size_t n);
#endif
