#include <string.h>
#include "apr_strings.h"
#include "apr_general.h"
#include "mcp_record.h"
#include "mcp_json.h"
#include "mcp_tool.h"
#include "mcp_version.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void mcp_record_key(const char *id, char key[MCP_KEY_LEN + 1])
{
    mcp_sha256_hex(id, strlen(id), key);
}

apr_status_t mcp_record_new(apr_pool_t *p, mcp_session_t **ps)
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
    mcp_record_key(id, s->key);
    s->created = s->last = apr_time_now();
    s->log_level = -1;
    *ps = s;
    return APR_SUCCESS;
}

int mcp_record_id_plausible(const char *id)
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

json_t *mcp_record_lazy_get(apr_pool_t *p, mcp_lazy_json_t *l)
{
    if (!l->value && l->raw) {
        l->value = mcp_json_load(p, l->raw, l->len);
        l->raw = NULL;
    }
    return l->value;
}

void mcp_record_lazy_set(apr_pool_t *p, mcp_lazy_json_t *l, json_t *v)
{
    l->value = mcp_json_pool_own(p, v);
    l->raw = NULL;
}

/* How many bytes of a UTF-8 string to keep so that its JSON form (escapes
 * count, quotes do not) takes at most max bytes; cut between characters. */
static apr_size_t json_prefix(const char *str, apr_size_t len, apr_size_t max)
{
    apr_size_t i = 0, used = 0;

    while (i < len) {
        unsigned char b = (unsigned char)str[i];
        apr_size_t n = 1, cost;

        if (b == '"' || b == '\\' || b == '\b' || b == '\f' || b == '\n'
            || b == '\r' || b == '\t') {
            cost = 2;
        }
        else if (b < 0x20) {
            cost = 6;               /* \u00XX */
        }
        else if (b < 0x80) {
            cost = 1;
        }
        else {
            n = cost = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
        }
        if (used + cost > max || i + n > len) {
            break;
        }
        used += cost;
        i += n;
    }
    return i;
}

json_t *mcp_record_client_info(json_t *info)
{
    static const struct { const char *name; apr_size_t max; } keep[] = {
        { "name", MCP_CLIENT_NAME_MAX },
        { "version", MCP_CLIENT_VERSION_MAX },
        { "title", MCP_CLIENT_TITLE_MAX },
    };
    json_t *m = json_object();
    apr_size_t i;

    for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        json_t *v = json_object_get(info, keep[i].name);
        if (json_is_string(v)) {
            const char *str = json_string_value(v);
            json_object_set_new(m, keep[i].name, json_stringn(str, json_prefix(
                str, json_string_length(v), keep[i].max)));
        }
    }
    return m;
}

json_t *mcp_record_client_caps(json_t *caps)
{
    /* ClientCapabilities of MCP 2025-11-25; others are not standard */
    static const char *const keys[] = { "roots", "sampling", "elicitation",
                                        "tasks", "experimental", NULL };
    json_t *m = json_object();
    apr_size_t room = MCP_CLIENT_CAPS_MAX - 2;      /* {} */
    int i;

    /* Every declared capability first, as {}: that it is declared is what
     * a tool asks (at most 67 bytes for all five)... */
    for (i = 0; keys[i]; i++) {
        if (json_is_object(json_object_get(caps, keys[i]))) {
            room -= strlen(keys[i]) + 5 + (json_object_size(m) ? 1 : 0);
            json_object_set_new(m, keys[i], json_object());
        }
    }
    /* ...then what each declares, in this order, while it fits. */
    for (i = 0; keys[i]; i++) {
        json_t *v = json_object_get(caps, keys[i]);
        size_t n;
        if (!json_is_object(v) || !json_object_size(v)) {
            continue;
        }
        n = json_dumpb(v, NULL, 0, JSON_COMPACT);
        if (n > 2 && n - 2 <= room) {
            json_object_set_new(m, keys[i], json_deep_copy(v));
            room -= n - 2;
        }
    }
    return m;
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

static const char hex_digits[] = "0123456789abcdef";

/* A string field; one that is not UTF-8 (a user name from an auth module
 * that allows any bytes) cannot be a JSON string and is kept byte-exact,
 * in hex, under name_hex. Returns 1 for hex. */
static int set_bytes(apr_pool_t *p, json_t *j, const char *name,
                     const char *v)
{
    apr_size_t n = strlen(v), i;
    char *hex;

    if (mcp_json_utf8_valid(v, n)) {
        json_object_set_new(j, name, json_stringn(v, n));
        return 0;
    }
    hex = apr_palloc(p, 2 * n + 1);
    for (i = 0; i < n; i++) {
        hex[2 * i] = hex_digits[(unsigned char)v[i] >> 4];
        hex[2 * i + 1] = hex_digits[(unsigned char)v[i] & 15];
    }
    hex[2 * n] = '\0';
    json_object_set_new(j, apr_pstrcat(p, name, "_hex", NULL),
                        json_stringn(hex, 2 * n));
    return 1;
}

/* The record as an object, untrimmed; clientInfo and capabilities last
 * (trimming replaces them; the fast reader never looks inside them). */
static json_t *record_json(apr_pool_t *p, mcp_session_t *s)
{
    json_t *j = mcp_json_pool_own(p, json_object());
    json_t *info = mcp_record_lazy_get(p, &s->client_info);
    json_t *caps = mcp_record_lazy_get(p, &s->client_caps);
    json_t *subs = mcp_record_lazy_get(p, &s->subscriptions);
    int hex = 0;

    /* flat fields first: the fast reader stops caring after them */
    json_object_set_new(j, "v", json_integer(MCP_RECORD_VERSION));
    json_object_set_new(j, "created", json_integer(apr_time_sec(s->created)));
    json_object_set_new(j, "last", json_integer(apr_time_sec(s->last)));
    json_object_set_new(j, "proto", json_string(s->protocol_version
                                                ? s->protocol_version : ""));
    json_object_set_new(j, "init", json_boolean(s->initialized));
    if (s->user) {
        hex |= set_bytes(p, j, "user", s->user);
    }
    hex |= set_bytes(p, j, "endpoint", s->endpoint ? s->endpoint : "");
    if (s->node) {
        hex |= set_bytes(p, j, "node", s->node);
    }
    if (s->backend_id) {
        json_object_set_new(j, "bid", json_string(s->backend_id));
    }
    if (s->backend_route) {
        json_object_set_new(j, "broute", json_string(s->backend_route));
    }
    if (hex) {
        /* replaced in place: "v" stays first */
        json_object_set_new(j, "v", json_integer(MCP_RECORD_VERSION_BYTES));
    }
    if (s->log_level >= 0) {
        json_object_set_new(j, "log", json_integer(s->log_level));
    }
    if (json_array_size(subs)) {
        json_object_set(j, "subs", subs);
    }
    if (info) {
        json_object_set(j, "client", info);
    }
    if (caps) {
        json_object_set(j, "caps", caps);
    }
    return j;
}

int mcp_record_fits(apr_pool_t *p, const mcp_session_t *s, apr_size_t max)
{
    apr_size_t len;
    char *out = mcp_json_dump(p, record_json(p, (mcp_session_t *)s), &len);
    return out && len <= max;
}

char *mcp_record_serialize(apr_pool_t *p, const mcp_session_t *cs,
                           apr_size_t max, apr_size_t *len)
{
    mcp_session_t *s = (mcp_session_t *)cs;     /* lazy fields may parse */
    json_t *j = record_json(p, s);
    json_t *info = json_object_get(j, "client");
    char *out;
    int pass;

    /* Pass 0: everything; 1: clientInfo trimmed; 2: capabilities dropped. */
    for (pass = 0; pass < 3; pass++) {
        if (pass == 1) {
            if (!info) {
                continue;
            }
            json_object_set_new(j, "client", client_info_minimal(info));
        }
        else if (pass == 2) {
            if (!json_object_get(j, "caps")) {
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

/* Time stamps are seconds that must fit apr_time_t in microseconds. */
#define MAX_SECONDS (APR_INT64_MAX / APR_USEC_PER_SEC)
#define MAX_LOG_LEVEL MCP_LOG_EMERGENCY

static int hex_value(char c)
{
    return (c >= '0' && c <= '9') ? c - '0'
           : (c >= 'a' && c <= 'f') ? c - 'a' + 10
           : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
}

/* n hex digits as a C string, or NULL (odd, not hex, or a NUL byte). */
static const char *unhex(apr_pool_t *p, const char *h, apr_size_t n)
{
    char *out = apr_palloc(p, n / 2 + 1);
    apr_size_t i;

    if (n % 2) {
        return NULL;
    }
    for (i = 0; i < n; i += 2) {
        int hi = hex_value(h[i]), lo = hex_value(h[i + 1]);
        if (hi < 0 || lo < 0 || (hi | lo) == 0) {
            return NULL;
        }
        out[i / 2] = (char)(hi << 4 | lo);
    }
    out[n / 2] = '\0';
    return out;
}

/* A string field, plain or (when hex) as name_hex, not both: 0 if
 * malformed. */
static int opt_bytes(apr_pool_t *p, json_t *j, const char *name, int hex,
                     const char **out)
{
    json_t *v = json_object_get(j, name);
    json_t *h = hex ? json_object_get(j, apr_pstrcat(p, name, "_hex", NULL))
                    : NULL;

    *out = NULL;
    if (h) {
        return !v && json_is_string(h)
               && (*out = unhex(p, json_string_value(h),
                                json_string_length(h))) != NULL;
    }
    if (!v) {
        return 1;
    }
    if (!json_is_string(v)
        || strlen(json_string_value(v)) != json_string_length(v)) {
        return 0;       /* a C string cannot hold it */
    }
    *out = apr_pstrmemdup(p, json_string_value(v), json_string_length(v));
    return 1;
}

/* An integer field within [min, max], dflt when absent: 0 if malformed. */
static int opt_integer(json_t *j, const char *name, apr_int64_t min,
                       apr_int64_t max, apr_int64_t dflt, apr_int64_t *out)
{
    json_t *v = json_object_get(j, name);

    if (!v) {
        *out = dflt;
        return 1;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min
        || json_integer_value(v) > max) {
        return 0;
    }
    *out = json_integer_value(v);
    return 1;
}

static void lazy_from(apr_pool_t *p, mcp_lazy_json_t *l, json_t *v)
{
    l->value = v ? mcp_json_pool_own(p, json_incref(v)) : NULL;
    l->raw = NULL;
}

/* The general reader: any record, through jansson. Fields of the wrong
 * type or out of range make it no record at all, as in the fast reader. */
apr_status_t mcp_record_parse_slow(apr_pool_t *p, const char *rec, apr_size_t len,
                               mcp_session_t **ps)
{
    mcp_session_t *s;
    json_t *j;
    apr_int64_t version, created, last, log;

    j = mcp_json_load(p, rec, len);
    if (!json_is_object(j)
        || !opt_integer(j, "v", MCP_RECORD_VERSION, MCP_RECORD_VERSION_BYTES,
                        0, &version) || !version) {
        return APR_EGENERAL;
    }
    s = apr_pcalloc(p, sizeof(*s));
    if (!opt_integer(j, "created", 0, MAX_SECONDS, 0, &created)
        || !opt_integer(j, "last", 0, MAX_SECONDS, 0, &last)
        || !opt_integer(j, "log", 0, MAX_LOG_LEVEL, -1, &log)
        || !opt_bytes(p, j, "proto", 0, &s->protocol_version)
        || !opt_bytes(p, j, "user", 1, &s->user)
        || !opt_bytes(p, j, "endpoint", 1, &s->endpoint)
        || !opt_bytes(p, j, "node", 1, &s->node)
        || !opt_bytes(p, j, "bid", 0, &s->backend_id)
        || !opt_bytes(p, j, "broute", 0, &s->backend_route)) {
        return APR_EGENERAL;
    }
    s->created = apr_time_from_sec(created);
    s->last = apr_time_from_sec(last);
    s->log_level = (int)log;
    s->initialized = json_is_true(json_object_get(j, "init"));
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

/* A JSON integer as jansson reads it (-?(0|[1-9][0-9]*)) spanning all of
 * [v, end) and within [min, max]; digits only, so no locale applies.
 * Longer ones than any field holds are left to jansson, which refuses
 * them too. */
static int integer_in(const char *v, const char *end, apr_int64_t min,
                      apr_int64_t max, apr_int64_t *out)
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
    n = neg ? -n : n;
    if (n < min || n > max) {
        return 0;
    }
    *out = n;
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
    int seen = 0;               /* user, endpoint, node; then their _hex */

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
            if (!integer_in(v, vend, MCP_RECORD_VERSION,
                            MCP_RECORD_VERSION_BYTES, &version)) {
                return APR_EINCOMPLETE;
            }
        }
        else if (KEY("created") || KEY("last")) {
            if (!integer_in(v, vend, 0, MAX_SECONDS, &n)) {
                return APR_EINCOMPLETE;
            }
            if (KEY("created")) {
                s->created = apr_time_from_sec(n);
            }
            else {
                s->last = apr_time_from_sec(n);
            }
        }
        else if (KEY("log")) {
            if (!integer_in(v, vend, 0, MAX_LOG_LEVEL, &n)) {
                return APR_EINCOMPLETE;
            }
            s->log_level = (int)n;
        }
        else if (KEY("proto")) {
            STRING_VALUE(s->protocol_version);
        }
        else if (KEY("user")) {
            STRING_VALUE(s->user);
            seen |= 1;
        }
        else if (KEY("endpoint")) {
            STRING_VALUE(s->endpoint);
            seen |= 2;
        }
        else if (KEY("node")) {
            STRING_VALUE(s->node);
            seen |= 4;
        }
        else if (KEY("user_hex") || KEY("endpoint_hex") || KEY("node_hex")) {
            /* strings that are not UTF-8, byte-exact (version 2) */
            const char *bytes;
            if (*v != '"' || scan_string(v, vend, &plain) != vend || !plain
                || !(bytes = unhex(p, v + 1, (apr_size_t)(vend - v - 2)))) {
                return APR_EINCOMPLETE;
            }
            if (KEY("user_hex")) {
                s->user = bytes;
                seen |= 8;
            }
            else if (KEY("endpoint_hex")) {
                s->endpoint = bytes;
                seen |= 16;
            }
            else {
                s->node = bytes;
                seen |= 32;
            }
        }
        else if (KEY("bid")) {
            STRING_VALUE(s->backend_id);
        }
        else if (KEY("broute")) {
            STRING_VALUE(s->backend_route);
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
    /* no version, or a field both plain and in hex: jansson decides */
    if (!version || (seen & (seen >> 3)) || skip_ws(c + 1, end) != end) {
        return APR_EINCOMPLETE;
    }
    *ps = s;
    return APR_SUCCESS;
}

char *mcp_record_initialize_request(apr_pool_t *p, mcp_session_t *s,
                                    const char *id, apr_size_t *len)
{
    json_t *info = mcp_record_lazy_get(p, &s->client_info);
    json_t *caps = mcp_record_lazy_get(p, &s->client_caps);
    json_t *params, *req;

    /* a backend needs a name and a version (the SDKs validate them) */
    if (!json_is_string(json_object_get(info, "name"))
        || !json_is_string(json_object_get(info, "version"))) {
        info = mcp_json_pool_own(p, json_pack("{s:s, s:s}", "name",
                                              MCP_SERVER_NAME, "version",
                                              MCP_VERSION));
    }
    params = json_pack("{s:s, s:o, s:O}", "protocolVersion",
                       s->protocol_version ? s->protocol_version : "",
                       "capabilities", caps ? json_incref(caps) : json_object(),
                       "clientInfo", info);
    req = mcp_json_pool_own(p, json_pack("{s:s, s:s, s:s, s:o}", "jsonrpc",
                                         "2.0", "id", id, "method",
                                         "initialize", "params", params));
    return mcp_json_dump(p, req, len);
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

int mcp_record_same(apr_pool_t *p, mcp_session_t *a, mcp_session_t *b)
{
    json_t *x, *y;
    return a->created == b->created && a->last == b->last
           && a->initialized == b->initialized && a->log_level == b->log_level
           && same_string(a->protocol_version, b->protocol_version)
           && same_string(a->user, b->user)
           && same_string(a->endpoint, b->endpoint)
           && same_string(a->node, b->node)
           && same_string(a->backend_id, b->backend_id)
           && same_string(a->backend_route, b->backend_route)
           && ((x = mcp_record_lazy_get(p, &a->client_info),
                y = mcp_record_lazy_get(p, &b->client_info), !x && !y)
               || (x && y && json_equal(x, y)))
           && ((x = mcp_record_lazy_get(p, &a->client_caps),
                y = mcp_record_lazy_get(p, &b->client_caps), !x && !y)
               || (x && y && json_equal(x, y)))
           && ((x = mcp_record_lazy_get(p, &a->subscriptions),
                y = mcp_record_lazy_get(p, &b->subscriptions), !x && !y)
               || (x && y && json_equal(x, y)));
}
