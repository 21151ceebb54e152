#include <string.h>
#include "apr_strings.h"
#include "apr_general.h"
#include "mcp_record.h"
#include "mcp_json.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void mcp_session_key(const char *id, char key[MCP_KEY_LEN + 1])
{
    mcp_sha256_hex(id, strlen(id), key);
}

apr_status_t mcp_session_new(apr_pool_t *p, mcp_session_t **ps)
{
    unsigned char rnd[MCP_SESSION_ID_BYTES + 1];
    char *id = apr_palloc(p, MCP_SESSION_ID_LEN + 1);
    mcp_session_t *s;
    apr_status_t rv;
    int i, o = 0;

    rv = apr_generate_random_bytes(rnd, MCP_SESSION_ID_BYTES);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rnd[MCP_SESSION_ID_BYTES] = 0;
    /* 32 bytes = 10 groups of 3 plus 2: 43 characters, no padding */
    for (i = 0; i < MCP_SESSION_ID_BYTES; i += 3) {
        apr_uint32_t v = ((apr_uint32_t)rnd[i] << 16)
                       | ((apr_uint32_t)rnd[i + 1] << 8)
                       | (i + 2 < MCP_SESSION_ID_BYTES ? rnd[i + 2] : 0);
        id[o++] = b64url[(v >> 18) & 63];
        id[o++] = b64url[(v >> 12) & 63];
        id[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < MCP_SESSION_ID_BYTES) {
            id[o++] = b64url[v & 63];
        }
    }
    id[o] = '\0';

    s = apr_pcalloc(p, sizeof(*s));
    s->id = id;
    mcp_session_key(id, s->key);
    s->created = s->last = apr_time_now();
    s->log_level = -1;
    *ps = s;
    return APR_SUCCESS;
}

int mcp_session_id_plausible(const char *id)
{
    const unsigned char *c;
    apr_size_t n = 0;

    if (!id || !*id) {
        return 0;
    }
    for (c = (const unsigned char *)id; *c; c++, n++) {
        if (*c < 0x21 || *c > 0x7e || n >= MCP_SESSION_ID_MAX) {
            return 0;
        }
    }
    return 1;
}

static json_t *client_info_minimal(json_t *info)
{
    json_t *m = json_object();
    json_t *name = json_object_get(info, "name");
    json_t *version = json_object_get(info, "version");
    if (json_is_string(name)) {
        json_object_set(m, "name", name);
    }
    if (json_is_string(version)) {
        json_object_set(m, "version", version);
    }
    return m;
}

char *mcp_record_serialize(apr_pool_t *p, const mcp_session_t *s,
                           apr_size_t max, apr_size_t *len)
{
    json_t *j = mcp_json_pool_own(p, json_object());
    char *out;
    int pass;

    json_object_set_new(j, "v", json_integer(MCP_RECORD_VERSION));
    json_object_set_new(j, "created", json_integer(apr_time_sec(s->created)));
    json_object_set_new(j, "last", json_integer(apr_time_sec(s->last)));
    json_object_set_new(j, "proto", json_string(s->protocol_version
                                                ? s->protocol_version : ""));
    json_object_set_new(j, "init", json_boolean(s->initialized));
    if (s->user) {
        json_object_set_new(j, "user", json_string(s->user));
    }
    json_object_set_new(j, "endpoint", json_string(s->endpoint ? s->endpoint : ""));
    if (s->node) {
        json_object_set_new(j, "node", json_string(s->node));
    }
    if (s->log_level >= 0) {
        json_object_set_new(j, "log", json_integer(s->log_level));
    }
    if (s->subscriptions && json_array_size(s->subscriptions)) {
        json_object_set(j, "subs", s->subscriptions);
    }
    /* Pass 0: everything; 1: clientInfo trimmed; 2: capabilities dropped. */
    for (pass = 0; pass < 3; pass++) {
        if (pass == 0) {
            if (s->client_info) {
                json_object_set(j, "client", s->client_info);
            }
            if (s->client_caps) {
                json_object_set(j, "caps", s->client_caps);
            }
        }
        else if (pass == 1) {
            if (!s->client_info) {
                continue;
            }
            json_object_set_new(j, "client", client_info_minimal(s->client_info));
        }
        else {
            if (!s->client_caps) {
                continue;
            }
            json_object_del(j, "caps");
            json_object_set_new(j, "trimmed", json_true());
        }
        out = mcp_json_dump(p, j, len);
        if (out && *len <= max) {
            return out;
        }
    }
    return NULL;
}

static const char *opt_string(apr_pool_t *p, json_t *j, const char *name)
{
    json_t *v = json_object_get(j, name);
    return json_is_string(v) ? apr_pstrdup(p, json_string_value(v)) : NULL;
}

apr_status_t mcp_record_parse(apr_pool_t *p, const char *rec, apr_size_t len,
                              mcp_session_t **ps)
{
    mcp_session_t *s;
    json_t *j, *v;

    j = mcp_json_load(p, rec, len);
    if (!json_is_object(j)
        || json_integer_value(json_object_get(j, "v")) != MCP_RECORD_VERSION) {
        return APR_EGENERAL;
    }
    s = apr_pcalloc(p, sizeof(*s));
    s->created = apr_time_from_sec(json_integer_value(json_object_get(j, "created")));
    s->last = apr_time_from_sec(json_integer_value(json_object_get(j, "last")));
    s->protocol_version = opt_string(p, j, "proto");
    s->initialized = json_is_true(json_object_get(j, "init"));
    s->user = opt_string(p, j, "user");
    s->endpoint = opt_string(p, j, "endpoint");
    s->node = opt_string(p, j, "node");
    v = json_object_get(j, "log");
    s->log_level = json_is_integer(v) ? (int)json_integer_value(v) : -1;
    /* borrowed from j, which the pool owns */
    s->client_info = json_object_get(j, "client");
    s->client_caps = json_object_get(j, "caps");
    s->subscriptions = json_object_get(j, "subs");
    *ps = s;
    return APR_SUCCESS;
}
