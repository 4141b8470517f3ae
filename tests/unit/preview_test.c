/* Previews: characters (approximate grapheme clusters) and where a preview
 * is cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rooms/preview.h"
#include "utf8.h"

#define FAMILY "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7\xe2\x80\x8d\xf0\x9f\x91\xa6"
#define FLAG_KR "\xf0\x9f\x87\xb0\xf0\x9f\x87\xb7"
#define FLAG_JP "\xf0\x9f\x87\xaf\xf0\x9f\x87\xb5"
#define E_ACUTE "e\xcc\x81"         /* e + U+0301 */
#define HAN_JAMO "\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab" /* U+1112 U+1161 U+11AB: "한" spelled in jamo */
#define GRIN "\xf0\x9f\x98\x80"     /* U+1F600 */
#define ANNYEONG "\xec\x95\x88\xeb\x85\x95\xed\x95\x98\xec\x84\xb8\xec\x9a\x94" /* 안녕하세요 */

static size_t char_len(const char *s)
{
    return preview_char_len(s, strlen(s));
}

/* Repeat s n times, into a malloc'd string. */
static char *repeat(const char *s, size_t n)
{
    size_t l = strlen(s);
    char *out = malloc(l * n + 1);
    assert_non_null(out);
    for (size_t i = 0; i < n; i++)
        memcpy(out + i * l, s, l);
    out[l * n] = '\0';
    return out;
}

static void preview_keeps_short_text(void **state)
{
    (void)state;
    assert_int_equal(preview_cut("hello", 5, 120, 480), 5);
    assert_int_equal(preview_cut("", 0, 120, 480), 0);
    assert_int_equal(preview_cut("hello", 5, 0, 0), 0);
    assert_int_equal(preview_cut("hello", 5, 5, 20), 5);
    assert_int_equal(preview_cut("hello", 5, 4, 16), 4);
}

static void byte_budget_never_cuts_a_character(void **state)
{
    (void)state;
    /* "aé€😀": 1 + 2 + 3 + 4 bytes, four characters. */
    const char *s = "a\xc3\xa9\xe2\x82\xac" GRIN;
    size_t len = strlen(s);
    size_t expect[] = {0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10};
    for (size_t max = 0; max <= len; max++)
        assert_int_equal(preview_cut(s, len, 100, max), expect[max]);
}

static void one_code_point_characters(void **state)
{
    (void)state;
    assert_int_equal(char_len("ab"), 1);
    assert_int_equal(char_len(ANNYEONG), 3);            /* precomposed Hangul */
    assert_int_equal(char_len("\xc3\xa9x"), 2);          /* precomposed é */
    assert_int_equal(char_len(GRIN GRIN), 4);
    assert_int_equal(char_len("\xe4\xb8\xad\xe6\x96\x87"), 3); /* 中文 */
}

static void combining_marks_stay_with_their_letter(void **state)
{
    (void)state;
    assert_int_equal(char_len(E_ACUTE "x"), 3);
    assert_int_equal(char_len("e\xcc\x81\xcc\xa3x"), 5);             /* two marks */
    assert_int_equal(char_len("\xe0\xa4\x95\xe0\xa4\xbf"), 6);        /* Devanagari क + vowel sign ि (Mc) */
    assert_int_equal(char_len("\xe3\x81\x8b\xe3\x82\x99"), 6);        /* か + voiced mark U+3099 */
    assert_int_equal(char_len("\xd8\xa8\xd9\x8e"), 4);                /* Arabic ب + fatha */
    /* A mark after a control starts its own character, as does a lone one. */
    assert_int_equal(char_len("\n\xcc\x81"), 1);
    assert_int_equal(char_len("\xcc\x81\xcc\x81"), 4);
}

static void emoji_sequences_are_one_character(void **state)
{
    (void)state;
    assert_int_equal(char_len(FAMILY "x"), 25);
    assert_int_equal(char_len("\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd!"), 8);  /* 👍 + skin tone */
    assert_int_equal(char_len("\xe2\x9d\xa4\xef\xb8\x8f!"), 6);          /* ❤ + VS16 */
    assert_int_equal(char_len("1\xef\xb8\x8f\xe2\x83\xa3!"), 7);         /* keycap 1️⃣ */
    /* 👩🏽‍💻: woman, skin tone, ZWJ, laptop. */
    assert_int_equal(char_len("\xf0\x9f\x91\xa9\xf0\x9f\x8f\xbd\xe2\x80\x8d\xf0\x9f\x92\xbb!"), 15);
    /* 🏴 + tag letters g b e n g + cancel tag: the flag of England. */
    assert_int_equal(char_len("\xf0\x9f\x8f\xb4\xf3\xa0\x81\xa7\xf3\xa0\x81\xa2\xf3\xa0\x81\xa5\xf3\xa0\x81\xae"
                              "\xf3\xa0\x81\xa7\xf3\xa0\x81\xbf!"),
                     28);
    /* A ZWJ between letters joins nothing after it. */
    assert_int_equal(char_len("a\xe2\x80\x8d" "b"), 4);
    assert_int_equal(char_len(GRIN "\xe2\x80\x8d" "b"), 7);
}

static void regional_indicators_pair_up(void **state)
{
    (void)state;
    assert_int_equal(char_len(FLAG_KR FLAG_JP), 8);
    assert_int_equal(char_len("\xf0\x9f\x87\xb0" FLAG_JP), 8); /* K J, P: pairs from the start */
    assert_int_equal(char_len("\xf0\x9f\x87\xb0x"), 4);        /* a lone one */
    const char *three = FLAG_KR "\xf0\x9f\x87\xaf";
    assert_int_equal(preview_cut(three, strlen(three), 1, 100), 8);
    assert_int_equal(preview_cut(three, strlen(three), 2, 100), 12);
}

static void hangul_jamo_make_one_syllable(void **state)
{
    (void)state;
    assert_int_equal(char_len(HAN_JAMO HAN_JAMO), 9);                  /* L V T */
    assert_int_equal(char_len("\xe1\x84\x80\xe1\x84\x80\xe1\x85\xa1x"), 9); /* L L V */
    assert_int_equal(char_len("\xea\xb0\x80\xe1\x86\xa8x"), 6);        /* 가 (LV) + T */
    assert_int_equal(char_len("\xea\xb0\x81\xe1\x86\xa8x"), 6);        /* 각 (LVT) + T */
    assert_int_equal(char_len("\xea\xb0\x81\xe1\x85\xa1x"), 3);        /* LVT, then a V starts anew */
    assert_int_equal(char_len("\xe1\x84\x92\xea\xb0\x80x"), 6);        /* L + LV */
    assert_int_equal(char_len("\xe1\x86\xab\xe1\x84\x92"), 3);         /* T, then L starts anew */
    assert_int_equal(char_len(ANNYEONG), 3);
}

static void controls_stand_alone(void **state)
{
    (void)state;
    assert_int_equal(char_len("\r\nx"), 2);
    assert_int_equal(char_len("\n\n"), 1);
    assert_int_equal(char_len("\t\xcc\x81"), 1);
}

static void invalid_utf8_ends_the_text(void **state)
{
    (void)state;
    assert_int_equal(preview_char_len("\xff", 1), 0);
    assert_int_equal(preview_char_len("\xe1\x84", 2), 0); /* truncated */
    assert_int_equal(preview_char_len("", 0), 0);
    assert_int_equal(char_len("e\xff"), 1);
    const char *s = "ab\xed\xa0\x80" "cd"; /* a surrogate */
    assert_int_equal(preview_cut(s, strlen(s), 10, 40), 2);
}

static void cut_after_max_characters(void **state)
{
    (void)state;
    static const struct {
        const char *unit;
        size_t count, max, expect_units;
    } cases[] = {
        {ANNYEONG, 40, 140, 28},      /* 200 characters: 140 kept, 420 bytes of a 1120-byte budget */
        {ANNYEONG, 28, 140, 28},      /* exactly 140 */
        {"\xea\xb0\x80", 139, 140, 139},
        {"\xea\xb0\x80", 141, 140, 140},
        {E_ACUTE, 150, 140, 140},     /* decomposed: 3 bytes a character */
        {HAN_JAMO, 150, 140, 124},    /* 9 bytes a character: 124 fit in 1120 */
        {"\xe1\x84\x80\xe1\x85\xa1", 150, 140, 140}, /* two jamo, 6 bytes: all 140 */
        {"\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", 150, 140, 140}, /* skin tone, 8 bytes: all 140 */
        {GRIN, 141, 140, 140},
        {FLAG_KR, 150, 140, 140},     /* 8 bytes each: all 140 */
        {FAMILY, 60, 140, 44},        /* 25 bytes each: 44 fit in 1120 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *text = repeat(cases[i].unit, cases[i].count);
        size_t ul = strlen(cases[i].unit);
        assert_int_equal(preview_cut(text, strlen(text), cases[i].max, cases[i].max * PREVIEW_BYTES_PER_CHAR),
                         cases[i].expect_units * ul);
        free(text);
    }
}

static void never_inside_a_character_at_the_boundary(void **state)
{
    (void)state;
    /* 139 one-byte characters, then a long one: the 140th is whole or out. */
    const char *tails[] = {FAMILY, E_ACUTE, HAN_JAMO, FLAG_KR, "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd"};
    for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
        char *a = repeat("a", 139);
        size_t tl = strlen(tails[i]);
        char *text = malloc(139 + tl + 5);
        assert_non_null(text);
        memcpy(text, a, 139);
        memcpy(text + 139, tails[i], tl);
        memcpy(text + 139 + tl, "tail", 5);
        size_t len = strlen(text);
        assert_int_equal(preview_cut(text, len, 140, 560), 139 + tl);
        assert_int_equal(preview_cut(text, len, 139, 556), 139);
        assert_int_equal(preview_cut(text, len, 140, 139 + tl - 1), 139); /* the byte budget stops it */
        free(a);
        free(text);
    }
}

static void every_cut_is_valid_utf8_at_a_character_boundary(void **state)
{
    (void)state;
    const char *s = "Hi " ANNYEONG " " GRIN FAMILY E_ACUTE HAN_JAMO FLAG_KR FLAG_JP "\r\n"
                    "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd" "1\xef\xb8\x8f\xe2\x83\xa3" "end";
    size_t len = strlen(s);
    size_t bounds[64], nb = 0;
    for (size_t at = 0; at < len;) {
        bounds[nb++] = at;
        at += preview_char_len(s + at, len - at);
    }
    bounds[nb] = len;
    for (size_t max = 0; max <= nb + 1; max++) {
        size_t cut = preview_cut(s, len, max, 4 * len);
        assert_int_equal(cut, bounds[max < nb ? max : nb]);
        assert_true(utf8_valid((const unsigned char *)s, cut));
    }
    for (size_t bytes = 0; bytes <= len; bytes++) {
        size_t cut = preview_cut(s, len, 1000, bytes);
        assert_true(cut <= bytes);
        bool at_bound = false;
        for (size_t k = 0; k <= nb; k++)
            at_bound |= bounds[k] == cut;
        assert_true(at_bound);
    }
}

static void one_huge_character_is_cut_between_code_points(void **state)
{
    (void)state;
    char *marks = repeat("\xcc\x81", 300); /* e + 300 × U+0301: one character, 601 bytes */
    char *text = malloc(strlen(marks) + 2);
    assert_non_null(text);
    text[0] = 'e';
    strcpy(text + 1, marks);
    size_t len = strlen(text);
    assert_int_equal(preview_char_len(text, len), len);
    assert_int_equal(preview_cut(text, len, 1, 4), 3); /* e + one mark */
    assert_int_equal(preview_cut(text, len, 140, 560), 559);
    char *p = preview_make(text, len, 2);
    assert_int_equal(strlen(p), 15); /* within 16 bytes: e + 7 marks */
    assert_memory_equal(p, text, 15);
    free(p);
    free(marks);
    free(text);
}

static void make_is_a_string(void **state)
{
    (void)state;
    char *p = preview_make(ANNYEONG " " GRIN, strlen(ANNYEONG " " GRIN), 3);
    assert_string_equal(p, "\xec\x95\x88\xeb\x85\x95\xed\x95\x98");
    free(p);
    p = preview_make("hello", 5, 0);
    assert_string_equal(p, "");
    free(p);
    p = preview_make(FAMILY FAMILY, 50, 1); /* 25 bytes over an 8-byte budget: the code points that fit */
    assert_string_equal(p, "\xf0\x9f\x91\xa8\xe2\x80\x8d");
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(preview_keeps_short_text),
        cmocka_unit_test(byte_budget_never_cuts_a_character),
        cmocka_unit_test(one_code_point_characters),
        cmocka_unit_test(combining_marks_stay_with_their_letter),
        cmocka_unit_test(emoji_sequences_are_one_character),
        cmocka_unit_test(regional_indicators_pair_up),
        cmocka_unit_test(hangul_jamo_make_one_syllable),
        cmocka_unit_test(controls_stand_alone),
        cmocka_unit_test(invalid_utf8_ends_the_text),
        cmocka_unit_test(cut_after_max_characters),
        cmocka_unit_test(never_inside_a_character_at_the_boundary),
        cmocka_unit_test(every_cut_is_valid_utf8_at_a_character_boundary),
        cmocka_unit_test(one_huge_character_is_cut_between_code_points),
        cmocka_unit_test(make_is_a_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
