/*
 * mcpr_conn.c: one connection to a Redis server (httpd-free: APR,
 * OpenSSL, hiredis's reply reader and command formatter, libc).
 *
 * Every step of a call (connect, TLS handshake, send, every read) runs
 * against ONE deadline: the socket is non-blocking after connect and we
 * poll() its fd for what we wait for. A connection owns an unmanaged
 * pool of its own holding the socket, the SSL session and the reader, so
 * any thread may open and close one without touching a shared pool.
 */
#include "mcpr.h"

#include "apr_strings.h"
#include "apr_portable.h"

#include <stdarg.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

/* What one exec or read may take in before the connection is declared
 * broken: no reply of ours comes near it, a runaway one must not eat the
 * child's memory (hiredis 0.14's reader has no cap of its own). */
#define MCPR_CONN_MAX_READ  (8 * 1024 * 1024)
#define MCPR_CONN_CHUNK     16384

struct mcpr_conn_t {
    apr_pool_t *pool;               /* unmanaged, owns everything below */
    apr_socket_t *sock;
    int fd;
    SSL *ssl;                       /* NULL: plain TCP */
    redisReader *reader;
    const char *peer;               /* "host:port", "[::1]:port" */
    const char *role;               /* ROLE's first element, or NULL */
    apr_uint32_t generation;        /* mcpr_node.c's */
    unsigned uses;                  /* exec and read calls */
    /* TLS 1.3 sends its session tickets after the handshake: with no
     * handshake command there was nothing to read them with at open, so
     * the session is kept after the first reply instead */
    const mcpr_tls_t *keep_tls;     /* non-NULL: keep still to do */
    const char *host;
    apr_port_t port;
};

static void keep_session(mcpr_conn_t *c)
{
    SSL_SESSION *s = SSL_get0_session(c->ssl);

    if (s && SSL_SESSION_is_resumable(s)) {
        mcpr_tls_session_keep(c->keep_tls, c->ssl, c->host, c->port);
        c->keep_tls = NULL;
    }
}

/* ------------------------------------------------------------------ */
/* Commands                                                           */

/* Too many arguments: argc goes past MCPR_MAX_ARGS and stays there, and
 * exec refuses the command (APR_EINVAL) instead of sending a truncated
 * one. */
void mcpr_conn_arg(mcpr_cmd_t *cmd, const char *arg, apr_size_t len)
{
    if (cmd->argc < 0 || cmd->argc >= MCPR_MAX_ARGS) {
        cmd->argc = MCPR_MAX_ARGS + 1;
        return;
    }
    cmd->argv[cmd->argc] = arg;
    cmd->len[cmd->argc] = len;
    cmd->argc++;
}

void mcpr_conn_args(mcpr_cmd_t *cmd, ...)
{
    va_list ap;
    const char *a;

    va_start(ap, cmd);
    while ((a = va_arg(ap, const char *)) != NULL) {
        mcpr_conn_arg(cmd, a, strlen(a));
    }
    va_end(ap);
}

int mcpr_conn_error_is(const redisReply *r, const char *word)
{
    size_t wl;

    if (r == NULL || r->type != REDIS_REPLY_ERROR || r->str == NULL) {
        return 0;
    }
    wl = strlen(word);
    return (size_t)r->len >= wl && memcmp(r->str, word, wl) == 0
           && ((size_t)r->len == wl || r->str[wl] == ' ');
}

/* ------------------------------------------------------------------ */
/* Cleanups                                                           */

static apr_status_t ssl_cleanup(void *data)
{
    /* Marked as shut down (nothing is sent): freeing a session that was
     * not shut down makes OpenSSL mark it not resumable, and
     * mcpr_tls_session_keep kept it for the next connection. */
    SSL_set_shutdown(data, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(data);
    return APR_SUCCESS;
}

static apr_status_t reader_cleanup(void *data)
{
    redisReaderFree(data);
    return APR_SUCCESS;
}

static apr_status_t reply_cleanup(void *data)
{
    freeReplyObject(data);
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Waiting on the fd against the deadline                             */

static int ms_left(apr_time_t deadline)
{
    apr_time_t left = deadline - apr_time_now();

    if (left <= 0) {
        return 0;
    }
    /* round up: never spin on a 0 ms poll while time remains */
    return (int)((left + 999) / 1000);
}

/* APR_SUCCESS when the fd is ready for `events`, APR_TIMEUP at the
 * deadline, or the error. */
static apr_status_t wait_fd(int fd, short events, apr_time_t deadline)
{
    struct pollfd pfd;
    int ms, rc;

    for (;;) {
        ms = ms_left(deadline);
        if (ms == 0) {
            return APR_TIMEUP;
        }
        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;
        rc = poll(&pfd, 1, ms);
        if (rc > 0) {
            /* POLLERR/POLLHUP: let the read or write say what happened */
            return APR_SUCCESS;
        }
        if (rc < 0 && errno != EINTR) {
            return APR_FROM_OS_ERROR(errno);
        }
    }
}

/* OpenSSL's error queue as one line ("" when empty), and emptied. */
static const char *ssl_errors(apr_pool_t *p)
{
    char buf[256];
    const char *all = "";
    unsigned long e;

    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        all = *all ? apr_pstrcat(p, all, "; ", buf, NULL)
                   : apr_pstrdup(p, buf);
    }
    return all;
}

/* ------------------------------------------------------------------ */
/* Raw I/O: plain or TLS, non-blocking, under the deadline            */

/* Write all len bytes. */
static apr_status_t send_all(mcpr_conn_t *c, const char *buf, size_t len,
                             apr_time_t deadline, apr_pool_t *p,
                             const char **err)
{
    apr_status_t rv = APR_SUCCESS;
    size_t off = 0;

    while (off < len) {
        short want = POLLOUT;

        if (c->ssl) {
            int n, e;

            ERR_clear_error();
            n = SSL_write(c->ssl, buf + off, (int)(len - off));
            if (n > 0) {
                off += (size_t)n;
                continue;
            }
            e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_READ) {
                want = POLLIN;
            }
            else if (e != SSL_ERROR_WANT_WRITE) {
                rv = (e == SSL_ERROR_ZERO_RETURN) ? APR_EOF : APR_EGENERAL;
                *err = apr_psprintf(p, "TLS write to %s failed: %s", c->peer,
                                    e == SSL_ERROR_SYSCALL && errno
                                    ? strerror(errno) : ssl_errors(p));
                goto leave;
            }
        }
        else {
            ssize_t n = send(c->fd, buf + off, len - off,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n >= 0) {
                off += (size_t)n;
                continue;
            }
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                rv = APR_FROM_OS_ERROR(errno);
                *err = apr_psprintf(p, "write to %s failed: %s", c->peer,
                                    strerror(errno));
                goto leave;
            }
        }
        rv = wait_fd(c->fd, want, deadline);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
    }

leave:
    return rv;
}

/* Read what is there (at least one byte) into buf: *got bytes. APR_EOF
 * when the peer closed, APR_TIMEUP at the deadline. */
static apr_status_t recv_some(mcpr_conn_t *c, char *buf, size_t len,
                              size_t *got, apr_time_t deadline,
                              apr_pool_t *p, const char **err)
{
    apr_status_t rv = APR_SUCCESS;

    for (;;) {
        short want = POLLIN;

        if (c->ssl) {
            int n, e;

            ERR_clear_error();
            n = SSL_read(c->ssl, buf, (int)len);
            if (n > 0) {
                *got = (size_t)n;
                goto leave;
            }
            e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_WRITE) {
                want = POLLOUT;
            }
            else if (e == SSL_ERROR_ZERO_RETURN
                     || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0
                         && (n == 0 || errno == ECONNRESET))) {
                rv = APR_EOF;
                goto leave;
            }
            else if (e != SSL_ERROR_WANT_READ) {
                rv = APR_EGENERAL;
                *err = apr_psprintf(p, "TLS read from %s failed: %s", c->peer,
                                    e == SSL_ERROR_SYSCALL && errno
                                    ? strerror(errno) : ssl_errors(p));
                goto leave;
            }
        }
        else {
            ssize_t n = recv(c->fd, buf, len, MSG_DONTWAIT);
            if (n > 0) {
                *got = (size_t)n;
                goto leave;
            }
            if (n == 0 || errno == ECONNRESET) {
                rv = APR_EOF;
                goto leave;
            }
            if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
                rv = APR_FROM_OS_ERROR(errno);
                *err = apr_psprintf(p, "read from %s failed: %s", c->peer,
                                    strerror(errno));
                goto leave;
            }
            if (errno == EINTR) {
                continue;
            }
        }
        rv = wait_fd(c->fd, want, deadline);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
    }

leave:
    return rv;
}

/* ------------------------------------------------------------------ */
/* Replies                                                            */

/* Take n replies from the reader, reading as needed. On failure the ones
 * taken so far are freed and replies[] is all NULL. keep_on_timeout:
 * the deadline passing is not an error of the connection (what was read
 * stays in the reader). */
static apr_status_t read_replies(mcpr_conn_t *c, redisReply **replies,
                                 int n, apr_time_t deadline, apr_time_t start,
                                 apr_pool_t *p, const char **err)
{
    apr_status_t rv = APR_SUCCESS;
    size_t total = 0;
    char buf[MCPR_CONN_CHUNK];
    int i = 0;

    while (i < n) {
        void *r = NULL;
        size_t got = 0;

        if (redisReaderGetReply(c->reader, &r) != REDIS_OK) {
            rv = APR_EGENERAL;
            *err = apr_psprintf(p, "protocol error from %s: %s", c->peer,
                                c->reader->errstr);
            goto leave;
        }
        if (r != NULL) {
            replies[i++] = r;
            continue;
        }
        if (total >= MCPR_CONN_MAX_READ) {
            rv = APR_EGENERAL;
            *err = apr_psprintf(p, "reply from %s larger than %d bytes",
                                c->peer, MCPR_CONN_MAX_READ);
            goto leave;
        }
        rv = recv_some(c, buf, sizeof(buf), &got, deadline, p, err);
        if (rv == APR_EOF) {
            *err = apr_psprintf(p, "connection closed by %s", c->peer);
            goto leave;
        }
        if (rv == APR_TIMEUP) {
            *err = apr_psprintf(p, "no answer from %s within %" APR_TIME_T_FMT
                                " ms", c->peer, (deadline - start + 500) / 1000);
            goto leave;
        }
        if (rv != APR_SUCCESS) {
            goto leave;
        }
        total += got;
        if (redisReaderFeed(c->reader, buf, got) != REDIS_OK) {
            rv = APR_ENOMEM;
            *err = apr_psprintf(p, "reading from %s: %s", c->peer,
                                c->reader->errstr);
            goto leave;
        }
    }

leave:
    if (rv != APR_SUCCESS) {
        while (i > 0) {
            freeReplyObject(replies[--i]);
            replies[i] = NULL;
        }
    }
    return rv;
}

/* Format the n commands into one buffer (from p) and send it in one
 * write, then read n replies; replies are NOT registered with any pool. */
static apr_status_t exec_raw(mcpr_conn_t *c, apr_pool_t *p,
                             const mcpr_cmd_t *cmds, int n,
                             redisReply **replies, apr_time_t deadline,
                             const char **err)
{
    apr_status_t rv = APR_SUCCESS;
    apr_time_t start = apr_time_now();
    char *one[16], **parts = one, *buf;
    int *lens, lone[16];
    size_t total = 0, off = 0;
    int i;

    for (i = 0; i < n; i++) {
        replies[i] = NULL;
    }
    if (n <= 0) {
        return APR_SUCCESS;
    }
    if (n > 16) {
        parts = apr_palloc(p, n * sizeof(*parts));
        lens = apr_palloc(p, n * sizeof(*lens));
    }
    else {
        lens = lone;
    }
    for (i = 0; i < n; i++) {
        parts[i] = NULL;
    }
    for (i = 0; i < n; i++) {
        if (cmds[i].argc <= 0 || cmds[i].argc > MCPR_MAX_ARGS) {
            rv = APR_EINVAL;
            *err = apr_psprintf(p, "command %d of %d has %d arguments "
                                "(1 to %d allowed)", i + 1, n, cmds[i].argc,
                                MCPR_MAX_ARGS);
            goto leave;
        }
        lens[i] = redisFormatCommandArgv(&parts[i], cmds[i].argc,
                                         (const char **)cmds[i].argv,
                                         cmds[i].len);
        if (lens[i] < 0) {
            rv = APR_ENOMEM;
            *err = "out of memory formatting a command";
            goto leave;
        }
        total += (size_t)lens[i];
    }
    if (n == 1) {
        buf = parts[0];
    }
    else {
        buf = apr_palloc(p, total);
        for (i = 0; i < n; i++) {
            memcpy(buf + off, parts[i], (size_t)lens[i]);
            off += (size_t)lens[i];
        }
    }
    rv = send_all(c, buf, total, deadline, p, err);
    if (rv == APR_TIMEUP) {
        *err = apr_psprintf(p, "no answer from %s within %" APR_TIME_T_FMT
                            " ms (sending)", c->peer, (deadline - start + 500) / 1000);
    }
    else if (rv == APR_EOF) {
        *err = apr_psprintf(p, "connection closed by %s", c->peer);
    }
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    rv = read_replies(c, replies, n, deadline, start, p, err);

leave:
    for (i = 0; i < n; i++) {
        if (parts[i]) {
            free(parts[i]);
        }
    }
    return rv;
}

apr_status_t mcpr_conn_exec(mcpr_conn_t *c, apr_pool_t *p,
                            const mcpr_cmd_t *cmds, int n,
                            redisReply **replies, apr_time_t deadline,
                            const char **err)
{
    apr_status_t rv;
    int i;

    c->uses++;
    rv = exec_raw(c, p, cmds, n, replies, deadline, err);
    if (rv == APR_SUCCESS && c->keep_tls) {
        keep_session(c);
    }
    if (rv == APR_SUCCESS) {
        for (i = 0; i < n; i++) {
            apr_pool_cleanup_register(p, replies[i], reply_cleanup,
                                      apr_pool_cleanup_null);
        }
    }
    return rv;
}

apr_status_t mcpr_conn_read(mcpr_conn_t *c, apr_pool_t *p,
                            redisReply **reply, apr_time_t deadline,
                            const char **err)
{
    apr_status_t rv;

    *reply = NULL;
    c->uses++;
    rv = read_replies(c, reply, 1, deadline, apr_time_now(), p, err);
    if (rv == APR_SUCCESS && c->keep_tls) {
        keep_session(c);
    }
    if (rv == APR_SUCCESS) {
        apr_pool_cleanup_register(p, *reply, reply_cleanup,
                                  apr_pool_cleanup_null);
    }
    return rv;
}

/* ------------------------------------------------------------------ */
/* Open                                                               */

static int is_ip_literal(const char *h)
{
    unsigned char b[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

static void keepalive(mcpr_conn_t *c)
{
    int idle = 30, intvl = 10, cnt = 3;

    /* best effort: a socket without keepalive still works */
    apr_socket_opt_set(c->sock, APR_TCP_NODELAY, 1);
    apr_socket_opt_set(c->sock, APR_SO_KEEPALIVE, 1);
#ifdef TCP_KEEPIDLE
    setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
#endif
#ifdef TCP_KEEPINTVL
    setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
#endif
#ifdef TCP_KEEPCNT
    setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
#endif
}

/* Connect to the first address of host that answers before dl. */
static apr_status_t tcp_connect(mcpr_conn_t *c, const char *host,
                                apr_port_t port, apr_time_t dl,
                                apr_pool_t *p, const char **err)
{
    apr_status_t rv;
    apr_sockaddr_t *sa;
    apr_os_sock_t fd;
    apr_time_t start = apr_time_now();

    rv = apr_sockaddr_info_get(&sa, host, APR_UNSPEC, port, 0, c->pool);
    if (rv != APR_SUCCESS) {
        char msg[120];
        *err = apr_psprintf(p, "cannot resolve %s: %s", host,
                            apr_strerror(rv, msg, sizeof(msg)));
        goto leave;
    }
    rv = APR_EGENERAL;
    for (; sa != NULL; sa = sa->next) {
        apr_socket_t *s;
        apr_interval_time_t left = dl - apr_time_now();
        char msg[120];

        if (left <= 0) {
            rv = APR_TIMEUP;
            break;
        }
        rv = apr_socket_create(&s, sa->family, SOCK_STREAM, APR_PROTO_TCP,
                               c->pool);
        if (rv != APR_SUCCESS) {
            *err = apr_psprintf(p, "cannot create a socket for %s: %s",
                                c->peer, apr_strerror(rv, msg, sizeof(msg)));
            continue;
        }
        apr_socket_timeout_set(s, left);
        rv = apr_socket_connect(s, sa);
        if (rv == APR_SUCCESS) {
            c->sock = s;
            break;
        }
        apr_socket_close(s);
        if (APR_STATUS_IS_TIMEUP(rv) || APR_STATUS_IS_EAGAIN(rv)
            || APR_STATUS_IS_EINPROGRESS(rv)) {
            rv = APR_TIMEUP;
            continue;
        }
        *err = apr_psprintf(p, "cannot connect to %s: %s", c->peer,
                            apr_strerror(rv, msg, sizeof(msg)));
    }
    if (rv == APR_TIMEUP) {
        *err = apr_psprintf(p, "no connection to %s within %" APR_TIME_T_FMT
                            " ms", c->peer, (dl - start + 500) / 1000);
    }
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    apr_os_sock_get(&fd, c->sock);
    c->fd = fd;
    keepalive(c);
    /* non-blocking from here on: we poll against the deadline */
    apr_socket_timeout_set(c->sock, 0);

leave:
    return rv;
}

static apr_status_t tls_connect(mcpr_conn_t *c, const char *host,
                                apr_port_t port, const mcpr_tls_t *tls,
                                apr_time_t deadline, apr_pool_t *p,
                                const char **err)
{
    apr_status_t rv = APR_SUCCESS;
    const char *sni = mcpr_tls_sni(tls);
    const char *name = sni ? sni : host;
    int ip = is_ip_literal(name);

    ERR_clear_error();
    c->ssl = SSL_new(mcpr_tls_ctx(tls));
    if (c->ssl == NULL) {
        rv = APR_ENOMEM;
        *err = apr_psprintf(p, "TLS with %s: SSL_new failed: %s", c->peer,
                            ssl_errors(p));
        goto leave;
    }
    apr_pool_cleanup_register(c->pool, c->ssl, ssl_cleanup,
                              apr_pool_cleanup_null);
    if (!SSL_set_fd(c->ssl, c->fd)
        || (!ip && !SSL_set_tlsext_host_name(c->ssl, name))) {
        rv = APR_EGENERAL;
        *err = apr_psprintf(p, "TLS with %s: %s", c->peer, ssl_errors(p));
        goto leave;
    }
    if (mcpr_tls_verify(tls) == MCPR_VERIFY_FULL) {
        int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
                                                    name)
                    : SSL_set1_host(c->ssl, name);
        if (!ok) {
            rv = APR_EGENERAL;
            *err = apr_psprintf(p, "TLS with %s: cannot verify the name %s: "
                                "%s", c->peer, name, ssl_errors(p));
            goto leave;
        }
    }
    mcpr_tls_session_use(tls, c->ssl, host, port);
    SSL_set_connect_state(c->ssl);
    for (;;) {
        int n, e;
        short want;

        ERR_clear_error();
        n = SSL_do_handshake(c->ssl);
        if (n == 1) {
            break;
        }
        e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ) {
            want = POLLIN;
        }
        else if (e == SSL_ERROR_WANT_WRITE) {
            want = POLLOUT;
        }
        else {
            long vr = SSL_get_verify_result(c->ssl);
            const char *q = ssl_errors(p);

            rv = APR_ECONNABORTED;
            if (vr != X509_V_OK) {
                *err = apr_psprintf(p, "TLS handshake with %s failed: %s (%s)",
                                    c->peer, X509_verify_cert_error_string(vr),
                                    q);
            }
            else if (*q) {
                *err = apr_psprintf(p, "TLS handshake with %s failed: %s",
                                    c->peer, q);
            }
            else {
                *err = apr_psprintf(p, "TLS handshake with %s failed: %s",
                                    c->peer, (e == SSL_ERROR_SYSCALL && errno)
                                    ? strerror(errno)
                                    : "connection closed by the server");
            }
            goto leave;
        }
        rv = wait_fd(c->fd, want, deadline);
        if (rv == APR_TIMEUP) {
            *err = apr_psprintf(p, "TLS handshake with %s: no answer in time",
                                c->peer);
        }
        if (rv != APR_SUCCESS) {
            goto leave;
        }
    }

leave:
    return rv;
}

/* AUTH, SELECT, CLIENT SETNAME, ROLE in one write. */
static apr_status_t handshake(mcpr_conn_t *c, const mcpr_auth_t *auth,
                              apr_time_t deadline, apr_pool_t *p,
                              const char **err)
{
    apr_status_t rv;
    mcpr_cmd_t cmds[4];
    const char *what[4];
    redisReply *replies[4];
    char db[16];
    int n = 0, i, role = -1;

    memset(cmds, 0, sizeof(cmds));
    if (auth->password) {
        mcpr_conn_args(&cmds[n], "AUTH", NULL);
        if (auth->user) {
            mcpr_conn_args(&cmds[n], auth->user, NULL);
        }
        mcpr_conn_args(&cmds[n], auth->password, NULL);
        what[n++] = "AUTH";
    }
    if (auth->db >= 0) {
        apr_snprintf(db, sizeof(db), "%d", auth->db);
        mcpr_conn_args(&cmds[n], "SELECT", db, NULL);
        what[n++] = "SELECT";
    }
    if (auth->client_name) {
        mcpr_conn_args(&cmds[n], "CLIENT", "SETNAME", auth->client_name, NULL);
        what[n++] = "CLIENT SETNAME";
    }
    if (auth->role) {
        mcpr_conn_args(&cmds[n], "ROLE", NULL);
        role = n;
        what[n++] = "ROLE";
    }
    if (n == 0) {
        return APR_SUCCESS;
    }
    rv = exec_raw(c, p, cmds, n, replies, deadline, err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < n; i++) {
        if (replies[i]->type == REDIS_REPLY_ERROR && rv == APR_SUCCESS) {
            rv = APR_EACCES;
            *err = apr_psprintf(p, "%s: %.*s", what[i], (int)replies[i]->len,
                                replies[i]->str);
        }
    }
    if (rv == APR_SUCCESS && role >= 0) {
        redisReply *r = replies[role];
        if (r->type == REDIS_REPLY_ARRAY && r->elements > 0
            && r->element[0]->type == REDIS_REPLY_STRING) {
            c->role = apr_pstrmemdup(c->pool, r->element[0]->str,
                                     r->element[0]->len);
        }
    }
    for (i = 0; i < n; i++) {
        freeReplyObject(replies[i]);
    }
    return rv;
}

apr_status_t mcpr_conn_open(mcpr_conn_t **out, const char *host,
                            apr_port_t port, const mcpr_tls_t *tls,
                            const mcpr_auth_t *auth, apr_time_t deadline,
                            apr_time_t connect_deadline, apr_pool_t *p,
                            const char **err)
{
    apr_status_t rv;
    apr_pool_t *pool;
    mcpr_conn_t *c = NULL;
    apr_time_t dl = deadline;

    *out = NULL;
    *err = NULL;
    rv = apr_pool_create_unmanaged_ex(&pool, NULL, NULL);
    if (rv != APR_SUCCESS) {
        *err = "out of memory";
        return rv;
    }
    c = apr_pcalloc(pool, sizeof(*c));
    c->pool = pool;
    c->fd = -1;
    c->peer = strchr(host, ':') ? apr_psprintf(pool, "[%s]:%u", host, port)
                                : apr_psprintf(pool, "%s:%u", host, port);
    c->reader = redisReaderCreate();
    if (c->reader == NULL) {
        rv = APR_ENOMEM;
        *err = "out of memory";
        goto leave;
    }
    apr_pool_cleanup_register(pool, c->reader, reader_cleanup,
                              apr_pool_cleanup_null);

    if (connect_deadline > 0 && connect_deadline < dl) {
        dl = connect_deadline;
    }
    rv = tcp_connect(c, host, port, dl, p, err);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if (tls) {
        rv = tls_connect(c, host, port, tls, deadline, p, err);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
    }
    if (auth) {
        rv = handshake(c, auth, deadline, p, err);
        if (rv != APR_SUCCESS) {
            goto leave;
        }
    }
    if (tls) {
        c->keep_tls = tls;
        c->host = apr_pstrdup(pool, host);
        c->port = port;
        keep_session(c);
    }

leave:
    if (rv != APR_SUCCESS) {
        if (*err == NULL) {
            char msg[120];
            *err = apr_psprintf(p, "%s: %s", c ? c->peer : host,
                                apr_strerror(rv, msg, sizeof(msg)));
        }
        apr_pool_destroy(pool);
        return rv;
    }
    *out = c;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* State                                                              */

int mcpr_conn_idle_ok(mcpr_conn_t *c)
{
    struct pollfd pfd;

    if (c->ssl && SSL_pending(c->ssl) > 0) {
        return 0;
    }
    /* leftovers in the reader: the replies are out of step */
    if (c->reader->len > c->reader->pos) {
        return 0;
    }
    pfd.fd = c->fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    return poll(&pfd, 1, 0) == 0;
}

const char *mcpr_conn_role(mcpr_conn_t *c)
{
    return c->role;
}

const char *mcpr_conn_peer(mcpr_conn_t *c)
{
    return c->peer;
}

void mcpr_conn_close(mcpr_conn_t *c)
{
    if (c) {
        apr_pool_destroy(c->pool);
    }
}

apr_uint32_t mcpr_conn_generation(const mcpr_conn_t *c)
{
    return c->generation;
}

void mcpr_conn_set_generation(mcpr_conn_t *c, apr_uint32_t generation)
{
    c->generation = generation;
}

unsigned mcpr_conn_uses(const mcpr_conn_t *c)
{
    return c->uses;
}

int mcpr_conn_tls_resumed(const mcpr_conn_t *c)
{
    return c->ssl != NULL && SSL_session_reused(c->ssl);
}
