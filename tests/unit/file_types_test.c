/* What an attachment's first bytes say it is, an image's size, and a
 * client's file name made safe (docs/files.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "file_name.h"
#include "file_types.h"

#define B(s) (const unsigned char *)s, sizeof s - 1

/* A 300x200 PNG's signature and IHDR. */
static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                    0, 0, 0x01, 0x2c, 0, 0, 0, 0xc8, 8, 6, 0, 0, 0};
/* A JPEG: SOI, an APP0 of 16 bytes, a DQT of 4, SOF0 of 640x480. */
static const unsigned char jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0,
                                     0xff, 0xdb, 0, 4, 0, 0,
                                     0xff, 0xc0, 0, 17, 8, 0x01, 0xe0, 0x02, 0x80, 3, 1, 0x22, 0, 2, 0x11, 1, 3,
                                     0x11, 1};
static const unsigned char gif[] = {'G', 'I', 'F', '8', '9', 'a', 0x40, 0x01, 0xf0, 0x00, 0x80, 0, 0};
/* WebP, lossy (VP8): 320x240. */
static const unsigned char webp_lossy[] = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', ' ',
                                           0, 0, 0, 0, 0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00};
/* WebP, lossless (VP8L): 100x50 (99 and 49 in 14 bits each). */
static const unsigned char webp_lossless[] = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'L',
                                              0, 0, 0, 0, 0x2f, 0x63, 0x40, 0x0c, 0x00, 0, 0, 0, 0, 0};
/* WebP, extended (VP8X): 1024x768 canvas. */
static const unsigned char webp_ext[] = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X',
                                         10, 0, 0, 0, 0, 0, 0, 0, 0xff, 0x03, 0x00, 0xff, 0x02, 0x00};

static void sniffing(void **state)
{
    (void)state;
    assert_string_equal(file_type_sniff(png, sizeof png, true), "image/png");
    assert_string_equal(file_type_sniff(jpeg, sizeof jpeg, true), "image/jpeg");
    assert_string_equal(file_type_sniff(gif, sizeof gif, true), "image/gif");
    assert_string_equal(file_type_sniff(webp_lossy, sizeof webp_lossy, true), "image/webp");
    assert_string_equal(file_type_sniff(B("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), true), "application/pdf");
    assert_string_equal(file_type_sniff(B("안녕하세요 😀\r\n\tline\f"), true), "text/plain");
    assert_string_equal(file_type_sniff(B("\xef\xbb\xbfwith a BOM"), true), "text/plain");
    assert_string_equal(file_type_sniff(B(""), true), "text/plain");
    /* Not text: NUL, other controls, C1, bad UTF-8. */
    assert_null(file_type_sniff(B("a\0b"), true));
    assert_null(file_type_sniff(B("a\x1b[31m"), true));
    assert_null(file_type_sniff(B("a\x7f"), true));
    assert_null(file_type_sniff(B("a\xc2\x85"), true));
    assert_null(file_type_sniff(B("caf\xe9"), true));
    assert_null(file_type_sniff(B("<html>\xff"), true));
    /* A text's head may end inside a character, the whole file may not. */
    assert_string_equal(file_type_sniff(B("한\xea\xb8"), false), "text/plain");
    assert_null(file_type_sniff(B("한\xea\xb8"), true));
    assert_null(file_type_sniff(B("\xea\xb8x"), false));
    /* Prefixes of magic numbers are not the type. */
    assert_string_equal(file_type_sniff(B("GIF8"), true), "text/plain");
    assert_null(file_type_sniff(B("\x89PNG\r\n"), true));
    assert_null(file_type_sniff(B("RIFF\0\0\0\0WAVE"), true));
}

static void known_and_bare(void **state)
{
    (void)state;
    assert_true(file_type_known("image/png"));
    assert_true(file_type_known("text/plain"));
    assert_false(file_type_known("text/html"));
    assert_false(file_type_known("image/svg+xml"));
    assert_false(file_type_known("IMAGE/PNG"));
    char out[64];
    file_type_bare(" Text/Plain ; charset=UTF-8", out, sizeof out);
    assert_string_equal(out, "text/plain");
    file_type_bare(NULL, out, sizeof out);
    assert_string_equal(out, "");
    file_type_bare("image/png", out, 4);
    assert_string_equal(out, "ima");
}

static void image_sizes(void **state)
{
    (void)state;
    uint32_t w = 0, h = 0;
    assert_true(file_image_size(png, sizeof png, "image/png", &w, &h));
    assert_int_equal(w, 300);
    assert_int_equal(h, 200);
    assert_true(file_image_size(jpeg, sizeof jpeg, "image/jpeg", &w, &h));
    assert_int_equal(w, 640);
    assert_int_equal(h, 480);
    assert_true(file_image_size(gif, sizeof gif, "image/gif", &w, &h));
    assert_int_equal(w, 320);
    assert_int_equal(h, 240);
    assert_true(file_image_size(webp_lossy, sizeof webp_lossy, "image/webp", &w, &h));
    assert_int_equal(w, 320);
    assert_int_equal(h, 240);
    assert_true(file_image_size(webp_lossless, sizeof webp_lossless, "image/webp", &w, &h));
    assert_int_equal(w, 100);
    assert_int_equal(h, 50);
    assert_true(file_image_size(webp_ext, sizeof webp_ext, "image/webp", &w, &h));
    assert_int_equal(w, 1024);
    assert_int_equal(h, 768);
    /* Cut short, zero, or not an image. */
    w = h = 7;
    assert_false(file_image_size(png, 20, "image/png", &w, &h));
    assert_false(file_image_size(jpeg, 30, "image/jpeg", &w, &h));
    assert_false(file_image_size(gif, 8, "image/gif", &w, &h));
    assert_false(file_image_size(B("%PDF-1.7"), "application/pdf", &w, &h));
    assert_false(file_image_size(png, sizeof png, NULL, &w, &h));
    static const unsigned char zero_gif[] = {'G', 'I', 'F', '8', '9', 'a', 0, 0, 5, 0};
    assert_false(file_image_size(zero_gif, sizeof zero_gif, "image/gif", &w, &h));
    /* A JPEG whose segment lengths run past the bytes, or end at SOS. */
    static const unsigned char jpeg_long[] = {0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff, 0, 0};
    assert_false(file_image_size(jpeg_long, sizeof jpeg_long, "image/jpeg", &w, &h));
    static const unsigned char jpeg_sos[] = {0xff, 0xd8, 0xff, 0xda, 0, 8, 0, 0, 0, 0};
    assert_false(file_image_size(jpeg_sos, sizeof jpeg_sos, "image/jpeg", &w, &h));
    assert_int_equal(w, 7);
    assert_int_equal(h, 7);
}

static void clean(const char *in, size_t len, const char *want)
{
    char out[FILE_NAME_MAX + 1];
    size_t n = file_name_clean(in, len, out, sizeof out);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

#define C(in, want) clean(in, sizeof in - 1, want)

static void file_names(void **state)
{
    (void)state;
    C("report.pdf", "report.pdf");
    C("보고서 최종본 😀.png", "보고서 최종본 😀.png");
    C("../../etc/passwd", "passwd");
    C("..\\..\\windows\\win.ini", "win.ini");
    C("a/b\\c.txt", "c.txt");
    C("..", "");
    C("../", "");
    C("...hidden.", "hidden");
    C("  spaced  ", "spaced");
    C("nul\0byte.txt", "nulbyte.txt");
    C("tab\there\r\n.txt", "tabhere.txt");
    C("esc\x1b[31m.txt", "esc[31m.txt");
    C("c1\xc2\x85x.txt", "c1x.txt");
    C("rtl\xe2\x80\xaegpj.exe", "rtlgpj.exe");
    C("bad\xff\xfeutf8.txt", "badutf8.txt");
    C("\xe3\x80\x80ideographic", "ideographic");
    /* Bounded, never inside a character. */
    char longname[1000];
    size_t o = 0;
    while (o + 3 < sizeof longname) {
        memcpy(longname + o, "가", 3);
        o += 3;
    }
    char out[FILE_NAME_MAX + 1];
    size_t n = file_name_clean(longname, o, out, sizeof out);
    assert_int_equal(n, FILE_NAME_MAX / 3 * 3);
    assert_int_equal(n % 3, 0);
}

static void ascii_names(void **state)
{
    (void)state;
    char out[64];
    file_name_ascii("보고서.pdf", out, sizeof out);
    assert_string_equal(out, "___.pdf");
    file_name_ascii("a\"b\\c%d.txt", out, sizeof out);
    assert_string_equal(out, "a_b_c_d.txt");
    file_name_ascii("plain.txt", out, 6);
    assert_string_equal(out, "plain");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sniffing),  cmocka_unit_test(known_and_bare), cmocka_unit_test(image_sizes),
        cmocka_unit_test(file_names), cmocka_unit_test(ascii_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
