/*
 * MCPRequestStateKeyFile: the keys that seal requestState. A key file is
 * read and parsed when the directive is read (also by `apachectl -t`),
 * so a server never starts with a key it cannot use; the key bytes are
 * never logged, only the kid that names them. Without the directive, one
 * random key made at the first start lives in ap_retained_data: kept
 * across graceful restarts (a state sealed before opens after), new
 * after a full stop and start, and known to this node only.
 */
#include <string.h>
#include "httpd.h"
#include "apr_strings.h"
#include "apr_file_io.h"
#include "apr_hash.h"
#include "apr_general.h"
#include "http_config.h"
#include "http_log.h"
#include "http_core.h"
#include "mcp_private.h"
#include "mcp_config.h"
#include "mcp_keyring.h"

#define KEYRING_RETAINED    "mod_mcp_session-statekey"
#define START_KEY_BYTES     32
/* A key file is one line: anything longer is not one. */
#define KEY_FILE_MAX        4096

/* One MCPRequestStateKeyFile, in mcp_srv_conf_t.state_keys. */
typedef struct keyfile_t {
    const char *path;
    unsigned char *key;
    apr_size_t len;
} keyfile_t;

typedef struct keyring_retained_t {
    unsigned char key[START_KEY_BYTES];
} keyring_retained_t;

static mcp_srv_conf_t *srv_conf(server_rec *s)
{
    return ap_get_module_config(s->module_config, &mcp_session_module);
}

/* "name (file:line)" of a server, for the log. */
static const char *label(apr_pool_t *p, server_rec *s)
{
    return apr_psprintf(p, "%s (%s:%u)", s->server_hostname
                        ? s->server_hostname : "*",
                        s->defn_name ? s->defn_name : "main server",
                        s->defn_line_number);
}

/* The whole file into *text (NUL-terminated), or why not. */
static const char *read_key_file(apr_pool_t *p, const char *path, char **text)
{
    char buf[KEY_FILE_MAX + 1], errbuf[128];
    apr_size_t n = 0;
    apr_file_t *f;
    apr_status_t rv;
    const char *why = NULL;

    rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p, "cannot be read (%s)",
                            apr_strerror(rv, errbuf, sizeof(errbuf)));
    }
    rv = apr_file_read_full(f, buf, sizeof(buf), &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EOF(rv)) {
        why = apr_psprintf(p, "cannot be read (%s)",
                           apr_strerror(rv, errbuf, sizeof(errbuf)));
        goto leave;
    }
    if (n > KEY_FILE_MAX) {
        why = "is larger than " APR_STRINGIFY(KEY_FILE_MAX) " bytes: not a "
              "key file (one line of hex or base64)";
        goto leave;
    }
    if (n == 0) {
        why = "is empty";
        goto leave;
    }
    *text = apr_pstrmemdup(p, buf, n);
leave:
    /* the stack copy held key bytes */
    memset(buf, 0, sizeof(buf));
    return why;
}

const char *mcp_keyring_add_file(cmd_parms *cmd, void *dc, const char *arg)
{
    mcp_srv_conf_t *sc = srv_conf(cmd->server);
    const char *path = ap_server_root_relative(cmd->temp_pool, arg);
    const char *why = NULL;
    char *text = NULL;
    mcp_state_ring_t *probe;
    keyfile_t *kf;

    if (!path) {
        return apr_psprintf(cmd->pool, MCPLOG(00750) "%s: '%s' is not a "
                            "valid path", cmd->cmd->name, arg);
    }
    if (!sc->state_keys) {
        sc->state_keys = apr_array_make(cmd->pool, 2, sizeof(keyfile_t *));
    }
    if (sc->state_keys->nelts >= MCP_STATE_KEYS_MAX) {
        return apr_psprintf(cmd->pool, MCPLOG(00750) "%s: %s: at most %d key "
                            "files per server (the first seals, the others "
                            "only verify: drop keys whose states have "
                            "expired)", cmd->cmd->name, path,
                            MCP_STATE_KEYS_MAX);
    }
    kf = apr_pcalloc(cmd->pool, sizeof(*kf));
    kf->path = apr_pstrdup(cmd->pool, path);
    if ((why = read_key_file(cmd->temp_pool, path, &text)) == NULL
        && mcp_state_key_parse(cmd->pool, text, &kf->key, &kf->len,
                               &why) != APR_SUCCESS) {
        why = why ? why : "holds no key";
    }
    if (text) {
        memset(text, 0, strlen(text));
    }
    if (!why) {
        /* what the ring takes (the parser checked the minimum) */
        probe = mcp_state_ring_make(cmd->temp_pool);
        if (mcp_state_ring_add(probe, kf->key, kf->len) != APR_SUCCESS) {
            why = apr_psprintf(cmd->pool, "holds a key of %" APR_SIZE_T_FMT
                               " bytes; a key has %d to %d", kf->len,
                               MCP_STATE_KEY_MIN, MCP_STATE_KEY_MAX);
        }
    }
    if (why) {
        return apr_psprintf(cmd->pool, MCPLOG(00750) "%s: key file %s %s "
                            "(expected one line of hex or base64 holding at "
                            "least %d random bytes, e.g. from `openssl rand "
                            "-hex 32`)", cmd->cmd->name, path, why,
                            MCP_STATE_KEY_MIN);
    }
    APR_ARRAY_PUSH(sc->state_keys, keyfile_t *) = kf;
    return NULL;
}

/* The start key: made once per parent process, kept across restarts. */
static apr_status_t start_ring(apr_pool_t *pconf, server_rec *s, int say,
                               mcp_state_ring_t **ring)
{
    keyring_retained_t *ret = ap_retained_data_get(KEYRING_RETAINED);
    int made = 0;
    apr_status_t rv = APR_SUCCESS;

    if (!ret) {
        ret = ap_retained_data_create(KEYRING_RETAINED, sizeof(*ret));
        rv = apr_generate_random_bytes(ret->key, sizeof(ret->key));
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, MCPLOG(00752)
                         "no random bytes for the requestState key; "
                         "startup stops");
            goto leave;
        }
        made = 1;
    }
    *ring = mcp_state_ring_make(pconf);
    rv = mcp_state_ring_add(*ring, ret->key, sizeof(ret->key));
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if (say) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, MCPLOG(00753)
                     "requestState: no MCPRequestStateKeyFile; sealing with "
                     "the start key %s (%s)", mcp_state_ring_kid(*ring),
                     made ? "made now" : "kept across the restart");
    }
leave:
    return rv;
}

apr_status_t mcp_keyring_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                                     server_rec *s)
{
    apr_hash_t *rings = apr_hash_make(ptemp);
    mcp_state_ring_t *start = NULL, *ring;
    server_rec *vs, *unshared = NULL;
    apr_status_t rv = APR_SUCCESS;
    /* httpd runs post_config twice at startup: say it on the real pass */
    int say = ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG;
    int i;

    for (vs = s; vs; vs = vs->next) {
        mcp_srv_conf_t *sc = srv_conf(vs);

        if (!sc->state_keys) {
            if (!start && (rv = start_ring(pconf, s, say, &start)) != APR_SUCCESS) {
                goto leave;
            }
            sc->ring = start;
            if (!unshared && mcp_config_mode(sc) == MCP_MODE_EXTERNAL) {
                unshared = vs;
            }
            continue;
        }
        /* virtual hosts without the directive share the main server's */
        ring = apr_hash_get(rings, &sc->state_keys, sizeof(sc->state_keys));
        if (!ring) {
            const char *first = NULL;
            ring = mcp_state_ring_make(pconf);
            for (i = 0; i < sc->state_keys->nelts; i++) {
                keyfile_t *kf = APR_ARRAY_IDX(sc->state_keys, i, keyfile_t *);
                /* checked when the directive was read */
                if ((rv = mcp_state_ring_add(ring, kf->key, kf->len))
                    != APR_SUCCESS) {
                    goto leave;
                }
                first = first ? first : kf->path;
            }
            apr_hash_set(rings, apr_pmemdup(ptemp, &sc->state_keys,
                                            sizeof(sc->state_keys)),
                         sizeof(sc->state_keys), ring);
            if (say) {
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, vs, MCPLOG(00751)
                             "requestState keys of %s: %d from "
                             "MCPRequestStateKeyFile, sealing with kid %s "
                             "(%s)", label(ptemp, vs),
                             mcp_state_ring_count(ring),
                             mcp_state_ring_kid(ring), first);
            }
        }
        sc->ring = ring;
    }
    if (unshared && say) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, unshared, MCPLOG(00754)
                     "MCPSessionStorageMode external (%s) without "
                     "MCPRequestStateKeyFile: the requestState of multi-round "
                     "calls (2026-07-28) is sealed with a key only this node "
                     "has, so a call's next round on another node, or after "
                     "a full restart, is refused; give every node the same "
                     "MCPRequestStateKeyFile", label(ptemp, unshared));
    }
leave:
    return rv;
}

const mcp_state_ring_t *mcp_keyring_ring(server_rec *s)
{
    return srv_conf(s)->ring;
}
