/* tollgate-dp: the data plane. This file parses the command line (named after kong.conf
 * keys) and starts the requested mode. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc_cli.h"
#include "model.h"
#include "version.h"

static void
usage(FILE *f)
{
    fprintf(f, "usage: tollgate-dp --check FILE\n"
               "       tollgate-dp --declarative-config FILE [--proxy-listen ADDR:PORT]...\n"
               "       tollgate-dp --version\n"
               "\n"
               "  --check FILE               validate a declarative file (kong.yml or JSON),\n"
               "                             print every error with its path; exit 1 if invalid\n"
               "  --declarative-config FILE  run a standalone data plane from FILE\n");
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"check", required_argument, NULL, 'c'},
        {"declarative-config", required_argument, NULL, 'd'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *check = NULL, *decl = NULL;
    int c;

    while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            check = optarg;
            break;
        case 'd':
            decl = optarg;
            break;
        case 'V':
            printf("%s\n", GW_PRODUCT);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (gw_model_init() < 0) {
        fprintf(stderr, "tollgate-dp: schema initialisation failed\n");
        return 1;
    }
    if (check) {
        return gw_doc_check_file(check, stdout, stderr);
    }
    if (decl) {
        /* TODO(#3): the proxy. Until then the file is validated and reported. */
        fprintf(stderr, "tollgate-dp: the proxy is not built yet (issue #3); validating %s\n",
                decl);
        return gw_doc_check_file(decl, stdout, stderr);
    }
    usage(stderr);
    return 2;
}
