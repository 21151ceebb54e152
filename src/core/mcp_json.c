#ifndef _GNU_SOURCE
#define _GNU_SOURCE                 /* strtod_l, newlocale */
#endif
#include <errno.h>
#include <locale.h>
#ifdef __GLIBC__
#include <malloc.h>                 /* malloc_trim */
#endif
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
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

/* ------------------------------------------------------------------ */
/* A strict RFC 8259 reader that builds jansson values. Every POST body
 * goes through it, and jansson's own reader lexes through a per-character
 * stream; this one walks the buffer. It accepts exactly what
 * json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) accepts, with the
 * same values (the unit tests and the fuzzer hold it to that), except a
 * raw NUL byte: jansson's stream sometimes skips one, this reader always
 * refuses it, as RFC 8259 does. */

#define MAX_DEPTH 2048              /* jansson's JSON_PARSER_MAX_DEPTH */

/* What building a value costs, in bytes of heap: jansson 2.14's
 * allocations rounded to glibc's chunks (16 bytes, 8 of them header, 32 at
 * least), measured with a counting allocator (t/unit checks that the sum
 * is never below the real peak). An empty object is a 72-byte struct plus
 * 8 hash buckets (224); an array a 40-byte struct plus 8 slots (128); a
 * number 32; a string a 32-byte struct plus its copy (80 + length); a
 * member a pair of 57 bytes + its key, with bucket growth (128 + key); an
 * array slot 8 bytes, 24 while the table doubles. true, false and null are
 * jansson's singletons. */
#define COST_OBJECT  224
#define COST_ARRAY   128
#define COST_NUMBER  32
#define COST_STRING  80
#define COST_MEMBER  128
#define COST_SLOT    24

typedef struct in_t {
    const unsigned char *c, *end;
    char *scratch;                  /* unescaped strings */
    apr_size_t scratch_cap;
    apr_pool_t *p;
    apr_size_t cost, max_cost;      /* max_cost 0: no limit */
    apr_size_t max_top_items;       /* 0: no limit */
    mcp_json_status_e why;          /* why read_value gave up */
} in_t;

/* Account for n more bytes of values; 0 (and in->why set) past the budget. */
static int charge(in_t *in, apr_size_t n)
{
    in->cost += n;
    if (in->max_cost && in->cost > in->max_cost) {
        in->why = MCP_JSON_TOO_COSTLY;
        return 0;
    }
    return 1;
}

static void ws(in_t *in)
{
    while (in->c < in->end && (*in->c == ' ' || *in->c == '\t'
                               || *in->c == '\n' || *in->c == '\r')) {
        in->c++;
    }
}

/* Length of one valid UTF-8 sequence at c (no overlongs, no surrogates,
 * at most U+10FFFF), or 0. */
static int utf8_len(const unsigned char *c, const unsigned char *end)
{
    unsigned char b = c[0];
    int n, i;
    apr_uint32_t cp;

    if (b < 0x80) {
        return 1;
    }
    if (b >= 0xc2 && b <= 0xdf) {
        n = 2;
        cp = b & 0x1f;
    }
    else if (b >= 0xe0 && b <= 0xef) {
        n = 3;
        cp = b & 0x0f;
    }
    else if (b >= 0xf0 && b <= 0xf4) {
        n = 4;
        cp = b & 0x07;
    }
    else {
        return 0;
    }
    if (end - c < n) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((c[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (c[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
        return 0;
    }
    return n;
}

json_t *mcp_json_text(const char *s, apr_size_t max)
{
    const unsigned char *c = (const unsigned char *)s, *end;
    apr_size_t len = strlen(s), o = 0;
    char *buf;
    json_t *j;
    int l;

    end = c + len;
    /* nearly always: valid and short enough */
    while (c < end && (l = utf8_len(c, end)) > 0) {
        c += l;
    }
    if (c == end && len <= max) {
        return json_stringn_nocheck(s, len);
    }
    /* each bad byte becomes U+FFFD (3 bytes); a cut ends in "..." */
    buf = malloc(max + 4);
    if (!buf) {
        return NULL;
    }
    for (c = (const unsigned char *)s; c < end; c += l) {
        const char *piece = (const char *)c;
        apr_size_t n;

        if ((l = utf8_len(c, end)) > 0) {
            n = (apr_size_t)l;
        }
        else {
            piece = "\xef\xbf\xbd";
            n = 3;
            l = 1;
        }
        if (o + n > max) {
            while (o > 0 && o + 3 > max) {
                do {            /* drop whole characters */
                    o--;
                } while (o > 0 && ((unsigned char)buf[o] & 0xc0) == 0x80);
            }
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(buf + o, piece, n);
        o += n;
    }
    j = json_stringn_nocheck(buf, o);
    free(buf);
    return j;
}

static int hex4(const unsigned char *c, apr_uint32_t *v)
{
    int i;
    *v = 0;
    for (i = 0; i < 4; i++) {
        unsigned char h = c[i];
        *v <<= 4;
        if (h >= '0' && h <= '9') {
            *v |= h - '0';
        }
        else if (h >= 'a' && h <= 'f') {
            *v |= h - 'a' + 10;
        }
        else if (h >= 'A' && h <= 'F') {
            *v |= h - 'A' + 10;
        }
        else {
            return 0;
        }
    }
    return 1;
}

/* in->c at '"'. On success *s points at the string (in the input when it
 * had no escape, else in scratch) and *n is its length. */
static int read_string(in_t *in, const char **s, apr_size_t *n)
{
    const unsigned char *start = ++in->c, *c = start;
    apr_size_t o = 0;
    int escaped = 0;

    /* fast scan: most strings have no escape */
    while (c < in->end && *c != '"' && *c != '\\') {
        int l;
        if (*c < 0x20 || !(l = utf8_len(c, in->end))) {
            return 0;
        }
        c += l;
    }
    if (c < in->end && *c == '"') {
        *s = (const char *)start;
        *n = (apr_size_t)(c - start);
        in->c = c + 1;
        return 1;
    }
    /* with escapes: unescape into scratch (never longer than the input) */
    if (in->scratch_cap < (apr_size_t)(in->end - start)) {
        in->scratch_cap = (apr_size_t)(in->end - start);
        in->scratch = apr_palloc(in->p, in->scratch_cap);
    }
    o = (apr_size_t)(c - start);
    if (o) {    /* scratch is NULL until needed: no memcpy(NULL, .., 0) */
        memcpy(in->scratch, start, o);
    }
    while (c < in->end && *c != '"') {
        apr_uint32_t cp, lo;
        int l;
        if (*c != '\\') {
            if (*c < 0x20 || !(l = utf8_len(c, in->end))) {
                return 0;
            }
            memcpy(in->scratch + o, c, (apr_size_t)l);
            o += (apr_size_t)l;
            c += l;
            continue;
        }
        escaped = 1;
        if (++c >= in->end) {
            return 0;
        }
        switch (*c) {
        case '"': case '\\': case '/':
            in->scratch[o++] = (char)*c++;
            continue;
        case 'b': in->scratch[o++] = '\b'; c++; continue;
        case 'f': in->scratch[o++] = '\f'; c++; continue;
        case 'n': in->scratch[o++] = '\n'; c++; continue;
        case 'r': in->scratch[o++] = '\r'; c++; continue;
        case 't': in->scratch[o++] = '\t'; c++; continue;
        case 'u':
            break;
        default:
            return 0;
        }
        if (in->end - c < 5 || !hex4(c + 1, &cp)) {
            return 0;
        }
        c += 5;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (in->end - c < 6 || c[0] != '\\' || c[1] != 'u'
                || !hex4(c + 2, &lo) || lo < 0xdc00 || lo > 0xdfff) {
                return 0;
            }
            c += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0) {
            return 0;   /* lone low surrogate; NUL is not allowed */
        }
        if (cp < 0x80) {
            in->scratch[o++] = (char)cp;
        }
        else if (cp < 0x800) {
            in->scratch[o++] = (char)(0xc0 | (cp >> 6));
            in->scratch[o++] = (char)(0x80 | (cp & 0x3f));
        }
        else if (cp < 0x10000) {
            in->scratch[o++] = (char)(0xe0 | (cp >> 12));
            in->scratch[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            in->scratch[o++] = (char)(0x80 | (cp & 0x3f));
        }
        else {
            in->scratch[o++] = (char)(0xf0 | (cp >> 18));
            in->scratch[o++] = (char)(0x80 | ((cp >> 12) & 0x3f));
            in->scratch[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            in->scratch[o++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    if (c >= in->end || !escaped) {
        return 0;
    }
    *s = in->scratch;
    *n = o;
    in->c = c + 1;
    return 1;
}

/* The C locale, for strtod_l: strtod follows the process's LC_NUMERIC,
 * which another module (mod_php's setlocale) may make "," and strtod would
 * stop at the ".". */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static json_t *read_number(in_t *in)
{
    const unsigned char *start = in->c, *c = in->c;
    int real = 0, neg = 0;
    char buf[64], *text = buf, *stop;
    apr_size_t n;
    double d;

    if (c < in->end && *c == '-') {
        neg = 1;
        c++;
    }
    if (c >= in->end || *c < '0' || *c > '9') {
        return NULL;
    }
    if (*c == '0') {
        c++;
    }
    else {
        while (c < in->end && *c >= '0' && *c <= '9') {
            c++;
        }
    }
    if (c < in->end && *c == '.') {
        real = 1;
        if (++c >= in->end || *c < '0' || *c > '9') {
            return NULL;
        }
        while (c < in->end && *c >= '0' && *c <= '9') {
            c++;
        }
    }
    if (c < in->end && (*c == 'e' || *c == 'E')) {
        real = 1;
        c++;
        if (c < in->end && (*c == '+' || *c == '-')) {
            c++;
        }
        if (c >= in->end || *c < '0' || *c > '9') {
            return NULL;
        }
        while (c < in->end && *c >= '0' && *c <= '9') {
            c++;
        }
    }
    in->c = c;
    n = (apr_size_t)(c - start);
    if (!real) {
        /* digits only: exact, and no locale involved; like jansson's
         * strtoll, anything outside json_int_t is refused */
        apr_uint64_t v = 0, limit = neg ? (apr_uint64_t)1 << 63
                                        : ((apr_uint64_t)1 << 63) - 1;
        for (c = start + neg; c < in->c; c++) {
            unsigned digit = (unsigned)(*c - '0');
            if (v > (limit - digit) / 10) {
                return NULL;
            }
            v = v * 10 + digit;
        }
        return json_integer(neg ? (json_int_t)(0 - v) : (json_int_t)v);
    }
    if (n >= sizeof(buf)) {
        if (!charge(in, n)) {
            return NULL;
        }
        text = apr_palloc(in->p, n + 1);
    }
    memcpy(text, start, n);
    text[n] = '\0';
    /* glibc's strtod is correctly rounded; in the C locale it reads
     * exactly the RFC 8259 number just delimited, which must all be used */
    pthread_once(&c_locale_once, c_locale_init);
    if (!c_locale) {
        return NULL;
    }
    errno = 0;
    d = strtod_l(text, &stop, c_locale);
    if (stop != text + n || (errno == ERANGE && isinf(d))) {
        return NULL;    /* jansson too refuses overflow, keeps underflow */
    }
    return json_real(d);
}

static json_t *read_value(in_t *in, int depth)
{
    const char *s;
    apr_size_t n, items = 0;
    json_t *v;

    ws(in);
    if (in->c >= in->end) {
        return NULL;
    }
    switch (*in->c) {
    case '{':
        if (depth >= MAX_DEPTH || !charge(in, COST_OBJECT)) {
            return NULL;
        }
        in->c++;
        v = json_object();
        ws(in);
        if (in->c < in->end && *in->c == '}') {
            in->c++;
            return v;
        }
        for (;;) {
            json_t *item;
            const char *key;
            ws(in);
            if (in->c >= in->end || *in->c != '"' || !read_string(in, &s, &n)
                || memchr(s, '\0', n)) {
                goto leave;
            }
            /* an escaped key lives in scratch: copy it, the value's
             * strings reuse scratch */
            if (!charge(in, COST_MEMBER + (s == in->scratch ? 2 * n : n))) {
                goto leave;
            }
            key = s == in->scratch ? apr_pstrmemdup(in->p, s, n) : s;
            if (json_object_getn(v, key, n)) {
                goto leave;  /* a duplicate key */
            }
            ws(in);
            if (in->c >= in->end || *in->c++ != ':'
                || !(item = read_value(in, depth + 1))) {
                goto leave;
            }
            json_object_setn_new_nocheck(v, key, n, item);
            ws(in);
            if (in->c < in->end && *in->c == ',') {
                in->c++;
                continue;
            }
            if (in->c < in->end && *in->c == '}') {
                in->c++;
                return v;
            }
            goto leave;
        }
    case '[':
        if (depth >= MAX_DEPTH || !charge(in, COST_ARRAY)) {
            return NULL;
        }
        in->c++;
        v = json_array();
        ws(in);
        if (in->c < in->end && *in->c == ']') {
            in->c++;
            return v;
        }
        for (;;) {
            json_t *item;
            /* a batch longer than allowed is refused as such: reading the
             * rest would only cost */
            if (depth == 0 && in->max_top_items
                && ++items > in->max_top_items) {
                in->why = MCP_JSON_TOO_MANY;
                goto leave;
            }
            if (!charge(in, COST_SLOT) || !(item = read_value(in, depth + 1))) {
                goto leave;
            }
            json_array_append_new(v, item);
            ws(in);
            if (in->c < in->end && *in->c == ',') {
                in->c++;
                continue;
            }
            if (in->c < in->end && *in->c == ']') {
                in->c++;
                return v;
            }
            goto leave;
        }
    case '"':
        if (!read_string(in, &s, &n) || !charge(in, COST_STRING + n)) {
            return NULL;
        }
        return json_stringn_nocheck(s, n);
    case 't':
        if (in->end - in->c >= 4 && !memcmp(in->c, "true", 4)) {
            in->c += 4;
            return json_true();
        }
        return NULL;
    case 'f':
        if (in->end - in->c >= 5 && !memcmp(in->c, "false", 5)) {
            in->c += 5;
            return json_false();
        }
        return NULL;
    case 'n':
        if (in->end - in->c >= 4 && !memcmp(in->c, "null", 4)) {
            in->c += 4;
            return json_null();
        }
        return NULL;
    default:
        return charge(in, COST_NUMBER) ? read_number(in) : NULL;
    }
leave:
    /* only a container that failed midway gets here: drop what it holds */
    json_decref(v);
    return NULL;
}

/* Past this many bytes of values, hand the freed memory back. jansson's
 * small blocks stay in glibc's per-thread fastbins when freed, where only
 * the same thread can reuse them: under a threaded MPM a few costly bodies
 * on different threads would each keep their child that much bigger. */
#define TRIM_AFTER ((apr_size_t)1 << 20)

static apr_status_t trim_heap(void *data)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    return APR_SUCCESS;
}

json_t *mcp_json_parse_bounded(apr_pool_t *p, const char *buf, apr_size_t len,
                               const mcp_json_limits_t *limits,
                               mcp_json_status_e *why, apr_size_t *cost)
{
    in_t in;
    json_t *j;

    in.c = (const unsigned char *)buf;
    in.end = in.c + len;
    in.scratch = NULL;
    in.scratch_cap = 0;
    in.p = p;
    in.cost = 0;
    in.max_cost = limits ? limits->max_cost : 0;
    in.max_top_items = limits ? limits->max_top_items : 0;
    in.why = MCP_JSON_INVALID;
    j = read_value(&in, 0);
    if (j) {
        ws(&in);
        if (in.c != in.end) {
            json_decref(j);
            j = NULL;
        }
    }
    if (why) {
        *why = j ? MCP_JSON_OK : in.why;
    }
    if (cost) {
        *cost = in.cost;
    }
    if (in.cost > TRIM_AFTER) {
        if (!j) {
            trim_heap(NULL);
        }
        else {
            /* registered first, so it runs after the value is released */
            apr_pool_cleanup_register(p, NULL, trim_heap,
                                      apr_pool_cleanup_null);
        }
    }
    return mcp_json_pool_own(p, j);
}

json_t *mcp_json_parse(apr_pool_t *p, const char *buf, apr_size_t len)
{
    return mcp_json_parse_bounded(p, buf, len, NULL, NULL, NULL);
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

int mcp_json_utf8_valid(const char *str, apr_size_t len)
{
    const unsigned char *c = (const unsigned char *)str, *end = c + len;

    while (c < end) {
        apr_uint32_t cp;
        int n, i;

        if (*c < 0x80) {
            c++;
            continue;
        }
        if (*c < 0xc2) {
            return 0;               /* a continuation byte, or overlong */
        }
        n = *c < 0xe0 ? 1 : *c < 0xf0 ? 2 : *c < 0xf5 ? 3 : -1;
        if (n < 0 || end - c <= n) {
            return 0;
        }
        cp = *c & (0x3f >> n);
        for (i = 1; i <= n; i++) {
            if ((c[i] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (c[i] & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
            || (n == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
            return 0;
        }
        c += n + 1;
    }
    return 1;
}
