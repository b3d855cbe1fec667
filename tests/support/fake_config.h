/* The line-oriented config reader both fake vendor libraries share (fake_nvml.c, fake_amdsmi.c).
 * Define FAKE_LIB_NAME (the prefix of error messages) before including it. */
#ifndef FLOCKOPS_FAKE_CONFIG_H
#define FLOCKOPS_FAKE_CONFIG_H

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#ifndef FAKE_LIB_NAME
#error "define FAKE_LIB_NAME before including fake_config.h"
#endif

static const char *g_cfg_path;
static int g_cfg_lineno;

static int cfg_error(const char *fmt, const char *arg)
{
    fprintf(stderr, FAKE_LIB_NAME ": %s:%d: ", g_cfg_path ? g_cfg_path : "?", g_cfg_lineno);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* '#' starts a comment at line start or after whitespace ("GPU#1" is kept). */
static void strip_comment(char *line)
{
    for (char *p = line; *p; p++) {
        if (*p == '#' && (p == line || isspace((unsigned char)p[-1]))) {
            *p = '\0';
            return;
        }
    }
}

/* Split "key rest..." in place; *rest is "" when there is no value. */
static char *split_key(char *line, char **rest)
{
    char *p = line;
    while (*p && !isspace((unsigned char)*p))
        p++;
    if (*p)
        *p++ = '\0';
    *rest = trim(p);
    return line;
}

static int copy_str(char *dst, size_t size, const char *src)
{
    if (strlen(src) >= size)
        return cfg_error("value too long: '%s'", src);
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

#endif
