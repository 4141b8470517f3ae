/* Address ranges in CIDR notation (10.0.0.0/8, 2001:db8::/32; a bare
 * address is a range of itself alone), and whether an address is in a list
 * of them. IPv4-mapped IPv6 addresses (::ffff:10.1.2.3) count as IPv4. */
#ifndef CHATD_CIDR_H
#define CHATD_CIDR_H

#include <stdbool.h>
#include <stddef.h>

struct cidr {
    unsigned char addr[16]; /* network byte order; the host bits are zero */
    int family;             /* AF_INET or AF_INET6 */
    unsigned bits;
};

struct cidr_list {
    struct cidr *v;
    size_t n;
};

/* Parses a comma- or space-separated list ("" is an empty list). On error
 * returns -1 with why naming the entry; out is left empty. */
int cidr_list_parse(const char *text, struct cidr_list *out, char *why, size_t whylen);
void cidr_list_free(struct cidr_list *l);
bool cidr_list_equal(const struct cidr_list *a, const struct cidr_list *b);

/* Parses one address (IPv4, IPv6, IPv4-mapped IPv6 as IPv4) into a[16] and
 * family. */
bool cidr_addr_parse(const char *text, unsigned char a[16], int *family);
/* Whether the address (as parsed by cidr_addr_parse) is in the list. */
bool cidr_list_has(const struct cidr_list *l, const unsigned char a[16], int family);

#endif
