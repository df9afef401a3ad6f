/* tollgate-cp: the control plane. The Admin API and the PostgreSQL store come with issue #5;
 * until then it validates declarative files with the same code the Admin API will use. */
#include <stdio.h>
#include <string.h>

#include "doc_cli.h"
#include "model.h"
#include "version.h"

int
main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("%s\n", GW_PRODUCT);
        return 0;
    }
    if (gw_model_init() < 0) {
        fprintf(stderr, "tollgate-cp: schema initialisation failed\n");
        return 1;
    }
    if (argc == 3 && strcmp(argv[1], "--check") == 0) {
        return gw_doc_check_file(argv[2], stdout, stderr);
    }
    fprintf(stderr, "usage: tollgate-cp --check FILE | --version\n"
                    "(the Admin API and PostgreSQL store are not built yet: issue #5)\n");
    return 2;
}
