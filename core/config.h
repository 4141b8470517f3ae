/* chat.ini: a small ini reader and typed getters with one-line errors of
 * the form "FILE: [SECTION] KEY: reason". */
#ifndef CHATD_CONFIG_H
#define CHATD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "strmap.h"

#define CONFIG_MAX_VALUE (64 * 1024)
#define CONFIG_MAX_SECTIONS 256
/* Keys in one section: room for a static user list of tens of thousands. */
#define CONFIG_MAX_KEYS 131072

struct config_entry {
    char *key;
    char *value; /* after ${VAR} expansion */
    int line;
    bool used;   /* read by someone: unread keys are rejected as unknown */
};

struct config_section {
    char *name;
    int line;
    struct config_entry *entries;
    size_t nentries;
    size_t capentries;
    struct strmap index; /* key -> its place in entries, plus one */
};

struct config {
    char *path;
    struct config_section *sections;
    size_t nsections;
};

/* 0 (caller frees *out with config_free), or -1 with one line in err. */
int config_load_file(struct config **out, const char *path, char *err, size_t errlen);
int config_load_string(struct config **out, const char *name, const char *text, char *err,
                       size_t errlen);
void config_free(struct config *c);

struct config_section *config_find(const struct config *c, const char *section);
/* The entry of key, or NULL when absent (or s is NULL); marks nothing. */
struct config_entry *config_entry_find(const struct config_section *s, const char *key);
/* The value, or NULL when absent (or s is NULL); marks the key used. */
const char *config_get(struct config_section *s, const char *key);

/* Typed getters: an absent key (or NULL s) gives dflt. A bad value: one line
 * in err, -1. They mark the key used. */
int config_get_int(const struct config *c, struct config_section *s, const char *key, long long dflt,
                   long long min, long long max, long long *out, char *err, size_t errlen);
int config_get_bool(const struct config *c, struct config_section *s, const char *key, bool dflt,
                    bool *out, char *err, size_t errlen);
/* Bytes; suffixes K, M, G (powers of 1024). */
int config_get_size(const struct config *c, struct config_section *s, const char *key, size_t dflt,
                    size_t min, size_t max, size_t *out, char *err, size_t errlen);
/* Milliseconds; suffixes ms, s, m, h, d; a plain number means seconds. */
int config_get_duration_ms(const struct config *c, struct config_section *s, const char *key,
                           long long dflt, long long min, long long max, long long *out, char *err,
                           size_t errlen);

/* The first key of s nobody read, or NULL. */
const char *config_first_unused(const struct config_section *s);

/* "FILE: [SECTION] KEY: reason"; section and key may be NULL. */
void config_errorf(char *err, size_t errlen, const struct config *c, const char *section,
                   const char *key, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

#endif
