/* chatd: command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passwd.h"
#include "server.h"
#include "server_run.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: chatd [-c FILE] [--check-config]\n"
            "       chatd hash-password [--iterations N]   (password read from stdin)\n"
            "       chatd --version | --help\n"
            "\n"
            "  -c, --config FILE   configuration file (default etc/chat.ini)\n"
            "      --check-config  load the configuration and every plugin, then exit:\n"
            "                      0 when it is valid, 1 with one line naming the problem\n"
            "  -v, --version       print the version and exit\n"
            "  -h, --help          print this help and exit\n"
            "\n"
            "Signals: SIGINT, SIGTERM drain the sessions and exit; SIGHUP reads the\n"
            "configuration again and applies what may change live (users, keys, allow\n"
            "rules, limits, log level) without dropping sessions, or logs one line\n"
            "saying why it did not.\n");
}

static int hash_password(int argc, char **argv)
{
    unsigned iterations = 200000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            char *end;
            unsigned long v = strtoul(argv[++i], &end, 10);
            if (*end || v < 1000 || v > 10000000) {
                fprintf(stderr, "chatd hash-password: --iterations must be 1000..10000000\n");
                return 2;
            }
            iterations = (unsigned)v;
        } else {
            fprintf(stderr, "chatd hash-password: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    char line[1024];
    if (!fgets(line, sizeof line, stdin)) {
        fprintf(stderr, "chatd hash-password: no password on stdin\n");
        return 1;
    }
    line[strcspn(line, "\r\n")] = '\0';
    char out[160];
    if (passwd_hash(line, iterations, out, sizeof out) < 0) {
        fprintf(stderr, "chatd hash-password: hashing failed\n");
        return 1;
    }
    printf("%s\n", out);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "hash-password") == 0)
        return hash_password(argc - 1, argv + 1);

    const char *config_path = "etc/chat.ini";
    int check_only = 0;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, 'C'},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'C':
            check_only = 1;
            break;
        case 'v':
            printf("chatd %s (SDK ABI %d.%d)\n", CHATD_VERSION, CHATD_ABI_MAJOR, CHATD_ABI_MINOR);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    /* `chatd --check-config FILE` reads naturally too. */
    if (optind < argc) {
        if (check_only && optind + 1 == argc) {
            config_path = argv[optind];
        } else {
            fprintf(stderr, "chatd: unexpected argument '%s'\n", argv[optind]);
            usage(stderr);
            return 2;
        }
    }

    struct server srv;
    char err[1024] = "";
    if (server_init(&srv, config_path, check_only, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        server_teardown(&srv);
        return 1;
    }
    if (check_only) {
        server_teardown(&srv);
        printf("%s: ok\n", config_path);
        return 0;
    }
    int rc = server_run(&srv, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "%s\n", err);
    server_teardown(&srv);
    return rc < 0 ? 1 : 0;
}
