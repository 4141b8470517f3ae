/* The ini reader: syntax, expansion, duplicates, typed getters and the
 * one-line error format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static struct config *load(const char *text)
{
    struct config *c;
    char err[256];
    if (config_load_string(&c, "t.ini", text, err, sizeof err) < 0)
        fail_msg("unexpected error: %s", err);
    return c;
}

static void load_fails(const char *text, const char *expected)
{
    struct config *c;
    char err[256] = "";
    assert_int_equal(config_load_string(&c, "t.ini", text, err, sizeof err), -1);
    assert_null(c);
    assert_string_equal(err, expected);
}

static void sections_and_keys_in_order(void **state)
{
    (void)state;
    struct config *c = load("; comment\n# another\n[a]\nx = 1\ny=two words ; trailing\n\n[b]\n"
                            "url = http://h/p?a=b;c\nempty =\nhash = v#1\n");
    assert_int_equal(c->nsections, 2);
    assert_string_equal(c->sections[0].name, "a");
    assert_string_equal(c->sections[0].entries[0].key, "x");
    struct config_section *a = config_find(c, "a");
    assert_string_equal(config_get(a, "y"), "two words");
    struct config_section *b = config_find(c, "b");
    assert_string_equal(config_get(b, "url"), "http://h/p?a=b;c");
    assert_string_equal(config_get(b, "empty"), "");
    assert_string_equal(config_get(b, "hash"), "v#1");
    assert_null(config_get(b, "absent"));
    assert_null(config_find(c, "c"));
    config_free(c);
}

static void long_values_are_whole(void **state)
{
    (void)state;
    char *text = malloc(20000);
    int n = sprintf(text, "[s]\nk = ");
    memset(text + n, 'x', 10000);
    strcpy(text + n + 10000, "\nj = 1\n");
    struct config *c = load(text);
    assert_int_equal(strlen(config_get(config_find(c, "s"), "k")), 10000);
    config_free(c);
    free(text);
}

static void syntax_errors(void **state)
{
    (void)state;
    load_fails("k = v\n", "t.ini: k: line 1: key outside any [section]");
    load_fails("[a]\nk = 1\nk = 2\n", "t.ini: [a] k: line 3: key given twice");
    load_fails("[a]\n[a]\n", "t.ini: [a] line 2: section appears twice");
    load_fails("[a\n", "t.ini: line 1: expected [section]");
    load_fails("[a]\njunk\n", "t.ini: [a] line 2: expected key = value");
    load_fails("[a]\n = v\n", "t.ini: [a] line 2: empty key");
}

static void environment_expansion(void **state)
{
    (void)state;
    setenv("CHATD_T_SET", "val", 1);
    unsetenv("CHATD_T_UNSET");
    setenv("CHATD_T_EMPTY", "", 1);
    struct config *c = load("[a]\nx = ${CHATD_T_SET}/p\ny = ${CHATD_T_UNSET:-dflt}\n"
                            "z = ${CHATD_T_EMPTY:-e}\nw = $$5 and $x\n");
    struct config_section *a = config_find(c, "a");
    assert_string_equal(config_get(a, "x"), "val/p");
    assert_string_equal(config_get(a, "y"), "dflt");
    assert_string_equal(config_get(a, "z"), "e");
    assert_string_equal(config_get(a, "w"), "$5 and $x");
    config_free(c);
    load_fails("[a]\nx = ${CHATD_T_UNSET}\n",
               "t.ini: [a] x: environment variable CHATD_T_UNSET is not set (use ${CHATD_T_UNSET:-default} for a fallback)");
    load_fails("[a]\nx = ${OPEN\n", "t.ini: [a] x: unterminated ${ in value");
}

static void typed_getters(void **state)
{
    (void)state;
    struct config *c = load("[a]\ni = 42\nbad = 4x\nb = yes\nsz = 4K\nsz2 = 3M\nd = 250ms\nd2 = 10\n"
                            "d3 = 2m\nd4 = 30d\nbig = 99\n");
    struct config_section *a = config_find(c, "a");
    char err[256];
    long long v;
    bool bv;
    size_t sv;
    assert_int_equal(config_get_int(c, a, "i", 0, 0, 100, &v, err, sizeof err), 0);
    assert_int_equal(v, 42);
    assert_int_equal(config_get_int(c, a, "missing", 7, 0, 100, &v, err, sizeof err), 0);
    assert_int_equal(v, 7);
    assert_int_equal(config_get_int(c, a, "bad", 0, 0, 100, &v, err, sizeof err), -1);
    assert_string_equal(err, "t.ini: [a] bad: expected an integer between 0 and 100, got '4x'");
    assert_int_equal(config_get_int(c, a, "big", 0, 0, 10, &v, err, sizeof err), -1);
    assert_int_equal(config_get_bool(c, a, "b", false, &bv, err, sizeof err), 0);
    assert_true(bv);
    assert_int_equal(config_get_size(c, a, "sz", 0, 0, 1u << 30, &sv, err, sizeof err), 0);
    assert_int_equal(sv, 4096);
    assert_int_equal(config_get_size(c, a, "sz2", 0, 0, 1u << 30, &sv, err, sizeof err), 0);
    assert_int_equal(sv, 3u << 20);
    assert_int_equal(config_get_duration_ms(c, a, "d", 0, 0, 100000, &v, err, sizeof err), 0);
    assert_int_equal(v, 250);
    assert_int_equal(config_get_duration_ms(c, a, "d2", 0, 0, 100000, &v, err, sizeof err), 0);
    assert_int_equal(v, 10000);
    assert_int_equal(config_get_duration_ms(c, a, "d3", 0, 0, 1000000, &v, err, sizeof err), 0);
    assert_int_equal(v, 120000);
    assert_int_equal(config_get_duration_ms(c, a, "d4", 0, 0, 100LL * 86400000, &v, err, sizeof err), 0);
    assert_int_equal(v, 30LL * 86400000);
    /* An absent section gives defaults. */
    assert_int_equal(config_get_size(c, NULL, "x", 5, 0, 10, &sv, err, sizeof err), 0);
    assert_int_equal(sv, 5);
    /* Every key was read except none: nothing unused. */
    assert_null(config_first_unused(a));
    config_free(c);
}

static void unused_keys_are_found(void **state)
{
    (void)state;
    struct config *c = load("[a]\nknown = 1\nstray = 2\n");
    struct config_section *a = config_find(c, "a");
    config_get(a, "known");
    assert_string_equal(config_first_unused(a), "stray");
    config_free(c);
}

static void missing_file(void **state)
{
    (void)state;
    struct config *c;
    char err[256];
    assert_int_equal(config_load_file(&c, "/nonexistent/chat.ini", err, sizeof err), -1);
    assert_string_equal(err, "/nonexistent/chat.ini: cannot open: No such file or directory");
}

/* A section of tens of thousands of keys (a static user list) loads, each
 * key is found by name, a repeated one is refused with its line, and the
 * section's limit is one line naming it. */
static void large_sections(void **state)
{
    (void)state;
    enum { USERS = 40000 };
    size_t cap = (size_t)USERS * 64 + 64;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t n = (size_t)snprintf(text, cap, "[auth]\nplugin = static\n");
    for (int i = 0; i < USERS; i++)
        n += (size_t)snprintf(text + n, cap - n, "user.\xea\xb9\x80%d\xf0\x9f\x98\x80.roles = user\n", i);
    struct config *c = load(text);
    struct config_section *s = config_find(c, "auth");
    assert_int_equal(s->nentries, USERS + 1);
    char key[64];
    for (int i = 0; i < USERS; i += 997) {
        snprintf(key, sizeof key, "user.\xea\xb9\x80%d\xf0\x9f\x98\x80.roles", i);
        assert_string_equal(config_get(s, key), "user");
    }
    assert_string_equal(config_entry_find(s, "plugin")->value, "static");
    assert_null(config_entry_find(s, "user.\xea\xb9\x80.roles"));
    config_free(c);

    n += (size_t)snprintf(text + n, cap - n, "user.\xea\xb9\x80%d\xf0\x9f\x98\x80.roles = admin\n", 17);
    char expected[160];
    snprintf(expected, sizeof expected,
             "t.ini: [auth] user.\xea\xb9\x80" "17\xf0\x9f\x98\x80.roles: line %d: key given twice", USERS + 3);
    load_fails(text, expected);
    free(text);

    size_t big = ((size_t)CONFIG_MAX_KEYS + 1) * 16 + 16;
    text = malloc(big);
    assert_non_null(text);
    n = (size_t)snprintf(text, big, "[s]\n");
    for (int i = 0; i <= CONFIG_MAX_KEYS; i++)
        n += (size_t)snprintf(text + n, big - n, "k%d = 1\n", i);
    snprintf(expected, sizeof expected, "t.ini: [s] k%d: line %d: more than %d keys in the section", CONFIG_MAX_KEYS,
             CONFIG_MAX_KEYS + 2, CONFIG_MAX_KEYS);
    load_fails(text, expected);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sections_and_keys_in_order),
        cmocka_unit_test(long_values_are_whole),
        cmocka_unit_test(syntax_errors),
        cmocka_unit_test(environment_expansion),
        cmocka_unit_test(typed_getters),
        cmocka_unit_test(unused_keys_are_found),
        cmocka_unit_test(missing_file),
        cmocka_unit_test(large_sections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
