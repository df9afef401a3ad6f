/* `--check FILE`: validate a declarative file and report on a stream, for people. */
#ifndef GW_DOC_CLI_H
#define GW_DOC_CLI_H

#include <stdio.h>

#include "doc.h"

/* Reads a whole file (malloc'd, *len set). NULL with errno on failure. */
char *gw_read_file(const char *path, size_t *len);

/* The format for a file name: .json -> JSON, .yml/.yaml -> YAML, else by content. */
enum gw_fmt gw_fmt_for_path(const char *path);

/* Loads path; on success prints the entity counts and the config hash to out and returns 0;
 * otherwise prints every error, one per line as "path: message" (document paths such as
 * services[2].routes[0].paths[1]), to err and returns 1. */
int gw_doc_check_file(const char *path, FILE *out, FILE *err);

/* Prints the errors of an error tree, one per line, with bracketed 0-based paths. */
void gw_doc_print_errors(const json_t *errs, FILE *err);

#endif
