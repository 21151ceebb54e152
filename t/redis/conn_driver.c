/*
 * The transport of mod_mcp_session_redis without httpd (t/69-redis-conn.t):
 * mcpr_conn.c and mcpr_tls.c linked with APR, hiredis and OpenSSL alone.
 *
 *   conn_driver [options] [CMD ARG... [, CMD ARG...]] [; CMD ...]...
 *
 * opens one connection and runs each ';'-separated group as ONE pipeline
 * (mcpr_conn_exec; ',' separates its commands), printing every reply.
 * Special groups: "@read" (mcpr_conn_read), "@idle" (mcpr_conn_idle_ok),
 * "@sleep MS", "@stdin" (wait for a line on stdin), "@reopen" (close,
 * open again with the same TLS context: is the session resumed?).
 * Options: -h host -p port -t deadline_ms (per call, default 2000)
 * -c connect_ms -u user -a password -n db -N client_name -r (ROLE)
 * --tls --ca F --cert F --key F --verify full|ca|none --sni NAME
 * Exit: 0 all calls succeeded, 2 open failed, 3 a call failed.
 */
#include "mcpr.h"

#include "apr_general.h"
#include "apr_strings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

static const char *rvname(apr_status_t rv)
{
    static char buf[160];
    char msg[120];

    if (APR_STATUS_IS_TIMEUP(rv)) return "TIMEUP";
    if (APR_STATUS_IS_EOF(rv)) return "EOF";
    if (rv == APR_EACCES) return "EACCES";
    if (rv == APR_EINVAL) return "EINVAL";
    if (rv == APR_ENOSPC) return "ENOSPC";
    if (APR_STATUS_IS_ECONNREFUSED(rv)) return "ECONNREFUSED";
    if (rv == APR_ECONNABORTED) return "ECONNABORTED";
    snprintf(buf, sizeof(buf), "%d (%s)", rv, apr_strerror(rv, msg, sizeof(msg)));
    return buf;
}

static void print_reply(const redisReply *r)
{
    size_t i;

    switch (r->type) {
    case REDIS_REPLY_STRING:
        printf("\"%.*s\"", (int)r->len, r->str);
        break;
    case REDIS_REPLY_STATUS:
        printf("+%.*s", (int)r->len, r->str);
        break;
    case REDIS_REPLY_ERROR:
        printf("-%.*s", (int)r->len, r->str);
        break;
    case REDIS_REPLY_INTEGER:
        printf(":%lld", r->integer);
        break;
    case REDIS_REPLY_NIL:
        printf("(nil)");
        break;
    case REDIS_REPLY_ARRAY:
        printf("[");
        for (i = 0; i < r->elements; i++) {
            if (i) printf(", ");
            print_reply(r->element[i]);
        }
        printf("]");
        break;
    default:
        printf("?%d", r->type);
    }
}

static long ms_since(apr_time_t t)
{
    return (long)((apr_time_now() - t) / 1000);
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    const char *host = "127.0.0.1", *err = NULL, *ca = NULL, *cert = NULL,
               *key = NULL, *sni = NULL;
    apr_port_t port = 6379;
    long tmo = 2000, ctmo = 0;
    int tls = 0, i, rc = 0;
    mcpr_verify_e verify = MCPR_VERIFY_FULL;
    mcpr_auth_t auth = { NULL, NULL, -1, NULL, 0 };
    mcpr_tls_t *t = NULL;
    mcpr_conn_t *c;
    apr_status_t rv;
    apr_time_t start;

    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&p, NULL);
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(o, "--tls")) { tls = 1; continue; }
        if (!strcmp(o, "-r")) { auth.role = 1; continue; }
        i++;
        if (!strcmp(o, "-h")) host = v;
        else if (!strcmp(o, "-p")) port = (apr_port_t)atoi(v);
        else if (!strcmp(o, "-t")) tmo = atol(v);
        else if (!strcmp(o, "-c")) ctmo = atol(v);
        else if (!strcmp(o, "-u")) auth.user = v;
        else if (!strcmp(o, "-a")) auth.password = v;
        else if (!strcmp(o, "-n")) auth.db = atoi(v);
        else if (!strcmp(o, "-N")) auth.client_name = v;
        else if (!strcmp(o, "--ca")) ca = v;
        else if (!strcmp(o, "--cert")) cert = v;
        else if (!strcmp(o, "--key")) key = v;
        else if (!strcmp(o, "--sni")) sni = v;
        else if (!strcmp(o, "--verify")) {
            verify = !strcmp(v, "none") ? MCPR_VERIFY_NONE
                   : !strcmp(v, "ca") ? MCPR_VERIFY_CA : MCPR_VERIFY_FULL;
        }
        else { fprintf(stderr, "unknown option %s\n", o); return 64; }
    }
    if (tls) {
        err = mcpr_tls_create(p, &t, ca, cert, key, verify, sni);
        if (err) {
            printf("tls: error %s\n", err);
            return 2;
        }
    }
    start = apr_time_now();
    rv = mcpr_conn_open(&c, host, port, t, &auth,
                        start + apr_time_from_msec(tmo),
                        ctmo ? start + apr_time_from_msec(ctmo) : 0, p, &err);
    if (rv != APR_SUCCESS) {
        printf("open: error %s ms=%ld err=%s\n", rvname(rv), ms_since(start),
               err ? err : "(none)");
        return 2;
    }
    printf("open: ok peer=%s role=%s resumed=%d ms=%ld\n", mcpr_conn_peer(c),
           mcpr_conn_role(c) ? mcpr_conn_role(c) : "-",
           mcpr_conn_tls_resumed(c), ms_since(start));

    while (i < argc) {
        mcpr_cmd_t cmds[32];
        redisReply *replies[32];
        int n = 0, j;
        apr_pool_t *cp;

        if (!strcmp(argv[i], ";")) { i++; continue; }
        if (!strcmp(argv[i], "@reopen")) {
            mcpr_conn_close(c);
            start = apr_time_now();
            rv = mcpr_conn_open(&c, host, port, t, &auth,
                                start + apr_time_from_msec(tmo), 0, p, &err);
            if (rv != APR_SUCCESS) {
                printf("reopen: error %s err=%s\n", rvname(rv), err);
                return 2;
            }
            printf("reopen: ok resumed=%d ms=%ld\n", mcpr_conn_tls_resumed(c),
                   ms_since(start));
            i++;
            continue;
        }
        if (!strcmp(argv[i], "@idle")) {
            printf("idle: %d\n", mcpr_conn_idle_ok(c));
            i++;
            continue;
        }
        if (!strcmp(argv[i], "@sleep") && i + 1 < argc) {
            apr_sleep(apr_time_from_msec(atol(argv[i + 1])));
            i += 2;
            continue;
        }
        if (!strcmp(argv[i], "@stdin")) {
            char line[64];
            if (!fgets(line, sizeof(line), stdin)) break;
            i++;
            continue;
        }
        apr_pool_create(&cp, p);
        start = apr_time_now();
        if (!strcmp(argv[i], "@read")) {
            redisReply *r;
            i++;
            rv = mcpr_conn_read(c, cp, &r, start + apr_time_from_msec(tmo), &err);
            if (rv == APR_SUCCESS) {
                printf("read: ok ms=%ld\nreply 1: ", ms_since(start));
                print_reply(r);
                printf("\n");
            }
            else {
                printf("read: error %s ms=%ld err=%s\n", rvname(rv),
                       ms_since(start), err);
                rc = 3;
            }
            apr_pool_destroy(cp);
            continue;
        }
        memset(cmds, 0, sizeof(cmds));
        while (i < argc && strcmp(argv[i], ";") && n < 32) {
            if (!strcmp(argv[i], ",")) {
                n++;
            }
            else {
                mcpr_conn_args(&cmds[n], argv[i], NULL);
            }
            i++;
        }
        n++;
        rv = mcpr_conn_exec(c, cp, cmds, n, replies,
                            start + apr_time_from_msec(tmo), &err);
        if (rv == APR_SUCCESS) {
            printf("exec: ok n=%d ms=%ld\n", n, ms_since(start));
            for (j = 0; j < n; j++) {
                printf("reply %d: ", j + 1);
                print_reply(replies[j]);
                printf("\n");
            }
        }
        else {
            printf("exec: error %s ms=%ld err=%s\n", rvname(rv),
                   ms_since(start), err);
            rc = 3;
        }
        apr_pool_destroy(cp);
        if (rv != APR_SUCCESS && rv != APR_EINVAL) {
            break;
        }
    }
    mcpr_conn_close(c);
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
