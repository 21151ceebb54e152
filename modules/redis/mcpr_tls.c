/*
 * mcpr_tls.c: the client SSL_CTX of an instance (httpd-free: APR and
 * OpenSSL). Built in the parent by init(), before the fork and as root,
 * so that a root-only client key loads the way mod_ssl loads its keys.
 * mcpr_conn.c runs the TLS session itself.
 *
 * It also keeps the latest session per server so that a child that
 * reconnects (after an outage, or when its pool grows) resumes instead of
 * paying a full handshake. The table is fixed-size and lives in the
 * parent's pool (the children only write into the copy they inherited,
 * under a thread mutex made in the parent).
 */
#include "mcpr.h"

#include "apr_strings.h"

#include <string.h>

#include <openssl/ssl.h>
#include <openssl/err.h>

#define MCPR_TLS_SESSIONS   16

typedef struct {
    char name[280];                 /* "host:port"; "" when free */
    SSL_SESSION *sess;
} tls_session_t;

struct mcpr_tls_t {
    SSL_CTX *ctx;
    mcpr_verify_e verify;
    const char *sni;
    apr_thread_mutex_t *mutex;      /* sessions; NULL: no resumption */
    tls_session_t sessions[MCPR_TLS_SESSIONS];
    unsigned next;                  /* round-robin replacement */
};

/* OpenSSL's reason (the last error of the queue), emptied. */
static const char *ssl_reason(apr_pool_t *p)
{
    char buf[256];
    unsigned long e, last = 0;

    while ((e = ERR_get_error()) != 0) {
        last = e;
    }
    if (last == 0) {
        return "unknown error";
    }
    ERR_error_string_n(last, buf, sizeof(buf));
    return apr_pstrdup(p, buf);
}

static apr_status_t tls_cleanup(void *data)
{
    mcpr_tls_t *t = data;
    int i;

    for (i = 0; i < MCPR_TLS_SESSIONS; i++) {
        if (t->sessions[i].sess) {
            SSL_SESSION_free(t->sessions[i].sess);
            t->sessions[i].sess = NULL;
        }
    }
    SSL_CTX_free(t->ctx);
    return APR_SUCCESS;
}

const char *mcpr_tls_create(apr_pool_t *p, mcpr_tls_t **out,
                            const char *ca_file, const char *cert_file,
                            const char *key_file, mcpr_verify_e verify,
                            const char *sni)
{
    mcpr_tls_t *t;

    *out = NULL;
    ERR_clear_error();
    t = apr_pcalloc(p, sizeof(*t));
    t->verify = verify;
    t->sni = sni ? apr_pstrdup(p, sni) : NULL;
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (t->ctx == NULL) {
        return apr_psprintf(p, "cannot make a TLS context: %s", ssl_reason(p));
    }
    apr_pool_cleanup_register(p, t, tls_cleanup, apr_pool_cleanup_null);
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(t->ctx, SSL_MODE_AUTO_RETRY);
    SSL_CTX_set_verify(t->ctx, verify == MCPR_VERIFY_NONE ? SSL_VERIFY_NONE
                                                          : SSL_VERIFY_PEER,
                       NULL);
    if (ca_file) {
        if (!SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL)) {
            return apr_psprintf(p, "cannot load the CA certificates of %s: %s",
                                ca_file, ssl_reason(p));
        }
    }
    else if (!SSL_CTX_set_default_verify_paths(t->ctx)) {
        return apr_psprintf(p, "cannot load the system's CA certificates: %s",
                            ssl_reason(p));
    }
    if (cert_file || key_file) {
        if (!cert_file || !key_file) {
            return "a client certificate needs both its certificate file "
                   "and its key file";
        }
        if (!SSL_CTX_use_certificate_chain_file(t->ctx, cert_file)) {
            return apr_psprintf(p, "cannot load the client certificate %s: %s",
                                cert_file, ssl_reason(p));
        }
        if (!SSL_CTX_use_PrivateKey_file(t->ctx, key_file, SSL_FILETYPE_PEM)) {
            return apr_psprintf(p, "cannot load the client key %s: %s",
                                key_file, ssl_reason(p));
        }
        if (!SSL_CTX_check_private_key(t->ctx)) {
            return apr_psprintf(p, "the client key %s does not match the "
                                "certificate %s: %s", key_file, cert_file,
                                ssl_reason(p));
        }
    }
    /* Sessions are ours to keep (mcpr_tls_session_keep), per server. */
    SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_CLIENT
                                           | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    if (apr_thread_mutex_create(&t->mutex, APR_THREAD_MUTEX_DEFAULT, p)
        != APR_SUCCESS) {
        t->mutex = NULL;
    }
    *out = t;
    return NULL;
}

struct ssl_ctx_st *mcpr_tls_ctx(const mcpr_tls_t *tls)
{
    return tls->ctx;
}

mcpr_verify_e mcpr_tls_verify(const mcpr_tls_t *tls)
{
    return tls->verify;
}

const char *mcpr_tls_sni(const mcpr_tls_t *tls)
{
    return tls->sni;
}

static tls_session_t *session_find(mcpr_tls_t *t, const char *name)
{
    int i;

    for (i = 0; i < MCPR_TLS_SESSIONS; i++) {
        if (strcmp(t->sessions[i].name, name) == 0) {
            return &t->sessions[i];
        }
    }
    return NULL;
}

void mcpr_tls_session_use(const mcpr_tls_t *tls, struct ssl_st *ssl,
                          const char *host, apr_port_t port)
{
    mcpr_tls_t *t = (mcpr_tls_t *)tls;
    char name[sizeof(t->sessions[0].name)];
    tls_session_t *e;

    if (t->mutex == NULL) {
        return;
    }
    apr_snprintf(name, sizeof(name), "%s:%u", host, port);
    apr_thread_mutex_lock(t->mutex);
    e = session_find(t, name);
    if (e && e->sess) {
        /* a session that no longer resumes just means a full handshake */
        SSL_set_session(ssl, e->sess);
    }
    apr_thread_mutex_unlock(t->mutex);
}

void mcpr_tls_session_keep(const mcpr_tls_t *tls, struct ssl_st *ssl,
                           const char *host, apr_port_t port)
{
    mcpr_tls_t *t = (mcpr_tls_t *)tls;
    char name[sizeof(t->sessions[0].name)];
    tls_session_t *e;
    SSL_SESSION *s;

    /* also after a resumption: TLS 1.3 tickets are meant for one use, the
     * server sent fresh ones */
    if (t->mutex == NULL) {
        return;
    }
    s = SSL_get1_session(ssl);
    if (s == NULL) {
        return;
    }
    if (!SSL_SESSION_is_resumable(s)) {
        SSL_SESSION_free(s);
        return;
    }
    apr_snprintf(name, sizeof(name), "%s:%u", host, port);
    apr_thread_mutex_lock(t->mutex);
    e = session_find(t, name);
    if (e == NULL) {
        e = &t->sessions[t->next++ % MCPR_TLS_SESSIONS];
        apr_cpystrn(e->name, name, sizeof(e->name));
    }
    if (e->sess) {
        SSL_SESSION_free(e->sess);
    }
    e->sess = s;
    apr_thread_mutex_unlock(t->mutex);
}
