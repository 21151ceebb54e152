#include <string.h>
#include "apr_strings.h"
#include "mcp_json.h"

static apr_status_t json_cleanup(void *data)
{
    json_decref((json_t *)data);
    return APR_SUCCESS;
}

json_t *mcp_json_pool_own(apr_pool_t *p, json_t *j)
{
    if (j) {
        apr_pool_cleanup_register(p, j, json_cleanup, apr_pool_cleanup_null);
    }
    return j;
}

/* A growing buffer in pool memory. */
typedef struct out_t {
    apr_pool_t *p;
    char *buf;
    apr_size_t len, cap;
} out_t;

static void grow(out_t *o, apr_size_t more)
{
    char *bigger;
    if (o->len + more <= o->cap) {
        return;
    }
    while (o->cap < o->len + more) {
        o->cap *= 2;
    }
    bigger = apr_palloc(o->p, o->cap);
    memcpy(bigger, o->buf, o->len);
    o->buf = bigger;
}

static void put(out_t *o, const char *s, apr_size_t n)
{
    grow(o, n);
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void put_string(out_t *o, const char *s, apr_size_t n)
{
    static const char hex[] = "0123456789ABCDEF";   /* as jansson */
    apr_size_t i, run = 0;

    grow(o, n + 2);
    o->buf[o->len++] = '"';
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        apr_size_t elen = 2;

        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        put(o, s + run, i - run);
        run = i + 1;
        esc[0] = '\\';
        switch (c) {
        case '"':  esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
            elen = 6;
        }
        put(o, esc, elen);
    }
    put(o, s + run, n - run);
    put(o, "\"", 1);
}

static int put_value(out_t *o, const json_t *j, int depth)
{
    char num[64];
    const char *key;
    json_t *v;
    size_t i;
    int first = 1, n;

    if (depth > 2048) {
        return -1;
    }
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        put(o, "{", 1);
        json_object_foreach((json_t *)j, key, v) {
            if (!first) {
                put(o, ",", 1);
            }
            first = 0;
            put_string(o, key, strlen(key));
            put(o, ":", 1);
            if (put_value(o, v, depth + 1)) {
                return -1;
            }
        }
        put(o, "}", 1);
        return 0;
    case JSON_ARRAY:
        put(o, "[", 1);
        json_array_foreach((json_t *)j, i, v) {
            if (i) {
                put(o, ",", 1);
            }
            if (put_value(o, v, depth + 1)) {
                return -1;
            }
        }
        put(o, "]", 1);
        return 0;
    case JSON_STRING:
        put_string(o, json_string_value(j), json_string_length(j));
        return 0;
    case JSON_INTEGER:
        n = apr_snprintf(num, sizeof(num), "%" APR_INT64_T_FMT,
                         (apr_int64_t)json_integer_value(j));
        put(o, num, (apr_size_t)n);
        return 0;
    case JSON_REAL:
        /* jansson's own formatting, so reals read back the same */
        n = (int)json_dumpb(j, num, sizeof(num), JSON_ENCODE_ANY);
        if (n <= 0 || n >= (int)sizeof(num)) {
            return -1;
        }
        put(o, num, (apr_size_t)n);
        return 0;
    case JSON_TRUE:
        put(o, "true", 4);
        return 0;
    case JSON_FALSE:
        put(o, "false", 5);
        return 0;
    default:
        put(o, "null", 4);
        return 0;
    }
}

char *mcp_json_dump(apr_pool_t *p, const json_t *j, apr_size_t *len)
{
    /* The compact form jansson writes (JSON_COMPACT, UTF-8 as is, no raw
     * newline, so a dump fits one SSE data: line), written straight into
     * pool memory: every answer goes through here, and jansson's dumper
     * calls back for every token. */
    out_t o;

    o.p = p;
    o.cap = 512;
    o.len = 0;
    o.buf = apr_palloc(p, o.cap);
    if (!j || put_value(&o, j, 0)) {
        return NULL;
    }
    grow(&o, 1);
    o.buf[o.len] = '\0';
    if (len) {
        *len = o.len;
    }
    return o.buf;
}

json_t *mcp_json_load(apr_pool_t *p, const char *buf, apr_size_t len)
{
    json_error_t err;
    /* Duplicate keys are rejected: two "id"s in one message are an
     * attack, not a message. Scalars are JSON (just not JSON-RPC). */
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                           &err);
    return mcp_json_pool_own(p, j);
}
