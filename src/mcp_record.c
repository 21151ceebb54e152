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

json_t *mcp_lazy_get(apr_pool_t *p, mcp_lazy_json_t *l)
{
    if (!l->value && l->raw) {
        l->value = mcp_json_load(p, l->raw, l->len);
        l->raw = NULL;
    }
    return l->value;
}

void mcp_lazy_set(apr_pool_t *p, mcp_lazy_json_t *l, json_t *v)
{
    l->value = mcp_json_pool_own(p, v);
    l->raw = NULL;
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

char *mcp_record_serialize(apr_pool_t *p, const mcp_session_t *cs,
                           apr_size_t max, apr_size_t *len)
{
    mcp_session_t *s = (mcp_session_t *)cs;     /* lazy fields may parse */
    json_t *j = mcp_json_pool_own(p, json_object());
    json_t *info = mcp_lazy_get(p, &s->client_info);
    json_t *caps = mcp_lazy_get(p, &s->client_caps);
    json_t *subs = mcp_lazy_get(p, &s->subscriptions);
    char *out;
    int pass;

    /* flat fields first: the fast reader stops caring after them */
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
    if (json_array_size(subs)) {
        json_object_set(j, "subs", subs);
    }
    /* Pass 0: everything; 1: clientInfo trimmed; 2: capabilities dropped. */
    for (pass = 0; pass < 3; pass++) {
        if (pass == 0) {
            if (info) {
                json_object_set(j, "client", info);
            }
            if (caps) {
                json_object_set(j, "caps", caps);
            }
        }
        else if (pass == 1) {
            if (!info) {
                continue;
            }
            json_object_set_new(j, "client", client_info_minimal(info));
        }
        else {
            if (!caps) {
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

/* ------------------------------------------------------------------ */
/* Reading                                                             */

static const char *opt_string(apr_pool_t *p, json_t *j, const char *name)
{
    json_t *v = json_object_get(j, name);
    return json_is_string(v) ? apr_pstrdup(p, json_string_value(v)) : NULL;
}

static void lazy_from(apr_pool_t *p, mcp_lazy_json_t *l, json_t *v)
{
    l->value = v ? mcp_json_pool_own(p, json_incref(v)) : NULL;
    l->raw = NULL;
}

/* The general reader: any record, through jansson. */
apr_status_t mcp_record_parse_slow(apr_pool_t *p, const char *rec, apr_size_t len,
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
    lazy_from(p, &s->client_info, json_object_get(j, "client"));
    lazy_from(p, &s->client_caps, json_object_get(j, "caps"));
    lazy_from(p, &s->subscriptions, json_object_get(j, "subs"));
    *ps = s;
    return APR_SUCCESS;
}

static const char *skip_ws(const char *c, const char *end)
{
    while (c < end && (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r')) {
        c++;
    }
    return c;
}

/* c at '"': the end of the string, or NULL; *plain when it has no escape. */
static const char *scan_string(const char *c, const char *end, int *plain)
{
    *plain = 1;
    for (c++; c < end; c++) {
        if (*c == '\\') {
            *plain = 0;
            c++;
        }
        else if (*c == '"') {
            return c + 1;
        }
        else if ((unsigned char)*c < 0x20) {
            return NULL;
        }
    }
    return NULL;
}

/* The end of the value starting at c (where the enclosing object goes on
 * with ',' or '}'), or NULL. Nested values are only delimited here;
 * jansson checks them if they are ever read. */
static const char *scan_value(const char *c, const char *end)
{
    int depth = 0, plain;

    while (c < end) {
        char ch = *c;
        if (ch == '"') {
            if (!(c = scan_string(c, end, &plain))) {
                return NULL;
            }
            continue;
        }
        if (depth == 0 && (ch == ',' || ch == '}' || ch == ' ' || ch == '\t'
                           || ch == '\n' || ch == '\r')) {
            return c;
        }
        if (ch == '{' || ch == '[') {
            depth++;
        }
        else if ((ch == '}' || ch == ']') && --depth < 0) {
            return NULL;
        }
        c++;
    }
    return NULL;
}

/* A JSON integer as jansson reads it (-?(0|[1-9][0-9]*)); longer ones
 * than any timestamp are left to jansson. */
static int integer_of(const char *v, const char *end, apr_int64_t *out)
{
    int neg = (v < end && *v == '-');
    apr_int64_t n = 0;
    const char *c = v + neg;

    if (c >= end || end - c > 18 || (*c == '0' && end - c > 1)) {
        return 0;
    }
    for (; c < end; c++) {
        if (*c < '0' || *c > '9') {
            return 0;
        }
        n = n * 10 + (*c - '0');
    }
    *out = neg ? -n : n;
    return 1;
}

/* The fast reader: a flat object whose strings have no escapes, as this
 * module writes them for ordinary sessions. Returns APR_EINCOMPLETE when
 * the record needs the general reader. */
apr_status_t mcp_record_parse_fast(apr_pool_t *p, const char *rec, apr_size_t len,
                               mcp_session_t **ps)
{
    const char *c = rec, *end = rec + len;
    mcp_session_t *s = apr_pcalloc(p, sizeof(*s));
    apr_int64_t version = 0, n;

    s->log_level = -1;
    c = skip_ws(c, end);
    if (c >= end || *c++ != '{') {
        return APR_EINCOMPLETE;
    }
    for (;;) {
        const char *key, *kend, *v, *vend;
        apr_size_t klen;
        int plain;

        c = skip_ws(c, end);
        if (c < end && *c == '}') {
            break;
        }
        if (c >= end || *c != '"' || !(kend = scan_string(c, end, &plain))
            || !plain) {
            return APR_EINCOMPLETE;
        }
        key = c + 1;
        klen = (apr_size_t)(kend - key - 1);
        c = skip_ws(kend, end);
        if (c >= end || *c++ != ':') {
            return APR_EINCOMPLETE;
        }
        v = skip_ws(c, end);
        if (!(vend = scan_value(v, end)) || vend == v) {
            return APR_EINCOMPLETE;
        }
#define KEY(name) (klen == sizeof(name) - 1 && !memcmp(key, name, klen))
#define STRING_VALUE(field)                                              \
        do {                                                             \
            if (*v != '"' || scan_string(v, vend, &plain) != vend        \
                || !plain) {                                             \
                return APR_EINCOMPLETE;                                  \
            }                                                            \
            field = apr_pstrmemdup(p, v + 1, (apr_size_t)(vend - v - 2)); \
        } while (0)
        if (KEY("v")) {
            if (!integer_of(v, vend, &version)) {
                return APR_EINCOMPLETE;
            }
        }
        else if (KEY("created") || KEY("last") || KEY("log")) {
            if (!integer_of(v, vend, &n)) {
                return APR_EINCOMPLETE;
            }
            if (KEY("log")) {
                s->log_level = (int)n;
            }
            else if (KEY("created")) {
                s->created = apr_time_from_sec(n);
            }
            else {
                s->last = apr_time_from_sec(n);
            }
        }
        else if (KEY("proto")) {
            STRING_VALUE(s->protocol_version);
        }
        else if (KEY("user")) {
            STRING_VALUE(s->user);
        }
        else if (KEY("endpoint")) {
            STRING_VALUE(s->endpoint);
        }
        else if (KEY("node")) {
            STRING_VALUE(s->node);
        }
        else if (KEY("init")) {
            s->initialized = (vend - v == 4 && !memcmp(v, "true", 4));
        }
        else if (KEY("client") || KEY("caps") || KEY("subs")) {
            mcp_lazy_json_t *l = KEY("client") ? &s->client_info
                                 : KEY("caps") ? &s->client_caps
                                 : &s->subscriptions;
            l->raw = v;
            l->len = (apr_size_t)(vend - v);
        }
#undef STRING_VALUE
#undef KEY
        c = skip_ws(vend, end);
        if (c < end && *c == ',') {
            c++;
        }
        else if (c >= end || *c != '}') {
            return APR_EINCOMPLETE;
        }
    }
    if (version != MCP_RECORD_VERSION || skip_ws(c + 1, end) != end) {
        return APR_EINCOMPLETE;
    }
    *ps = s;
    return APR_SUCCESS;
}

apr_status_t mcp_record_parse(apr_pool_t *p, const char *rec, apr_size_t len,
                              mcp_session_t **ps)
{
    if (mcp_record_parse_fast(p, rec, len, ps) == APR_SUCCESS) {
        return APR_SUCCESS;
    }
    return mcp_record_parse_slow(p, rec, len, ps);
}

static int same_string(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

int mcp_session_same(apr_pool_t *p, mcp_session_t *a, mcp_session_t *b)
{
    json_t *x, *y;
    return a->created == b->created && a->last == b->last
           && a->initialized == b->initialized && a->log_level == b->log_level
           && same_string(a->protocol_version, b->protocol_version)
           && same_string(a->user, b->user)
           && same_string(a->endpoint, b->endpoint)
           && same_string(a->node, b->node)
           && ((x = mcp_lazy_get(p, &a->client_info),
                y = mcp_lazy_get(p, &b->client_info), !x && !y)
               || (x && y && json_equal(x, y)))
           && ((x = mcp_lazy_get(p, &a->client_caps),
                y = mcp_lazy_get(p, &b->client_caps), !x && !y)
               || (x && y && json_equal(x, y)))
           && ((x = mcp_lazy_get(p, &a->subscriptions),
                y = mcp_lazy_get(p, &b->subscriptions), !x && !y)
               || (x && y && json_equal(x, y)));
}
