/* Fuzz the upload and download path's parsers: sniffing a file's first
 * bytes, an image's size, a client's file name, a Range header. The input
 * is fed whole to each. Invariants: a sniffed type is one chatd knows; a
 * size found is never zero; a cleaned name is valid UTF-8 of at most
 * FILE_NAME_MAX bytes without '/', '\', control characters or a leading
 * dot, and cleaning it again changes nothing; its ASCII stand-in is
 * printable ASCII without '"' or '\'; a satisfiable range lies inside the
 * file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "file_name.h"
#include "file_types.h"
#include "http/http_range.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int whole = 0; whole < 2; whole++) {
        const char *t = file_type_sniff(data, size, whole);
        if (t && !file_type_known(t))
            abort();
    }
    static const char *const types[] = {"image/png", "image/jpeg", "image/gif", "image/webp", "text/plain"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        uint32_t w = 0, h = 0;
        if (file_image_size(data, size, types[i], &w, &h) && (!w || !h))
            abort();
    }
    char name[FILE_NAME_MAX + 1], again[FILE_NAME_MAX + 1], ascii[FILE_NAME_MAX + 1];
    size_t n = file_name_clean((const char *)data, size, name, sizeof name);
    if (n != strlen(name) || n > FILE_NAME_MAX || !utf8_valid((const unsigned char *)name, n))
        abort();
    if (n && (name[0] == '.' || name[0] == ' ' || name[n - 1] == '.' || name[n - 1] == ' '))
        abort();
    for (size_t i = 0; i < n; i++)
        if (name[i] == '/' || name[i] == '\\' || (unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            abort();
    if (file_name_clean(name, n, again, sizeof again) != n || strcmp(name, again) != 0)
        abort();
    file_name_ascii(name, ascii, sizeof ascii);
    for (const char *p = ascii; *p; p++)
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
            abort();
    char *header = malloc(size + 1);
    if (!header)
        return 0;
    memcpy(header, data, size);
    header[size] = '\0';
    static const uint64_t lengths[] = {0, 1, 1000, UINT64_MAX};
    for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
        uint64_t a = 0, b = 0;
        if (http_range_parse(header, lengths[i], &a, &b) == HTTP_RANGE_OK && (a > b || b >= lengths[i]))
            abort();
    }
    free(header);
    return 0;
}
