#include <string.h>
#include "apr_strings.h"
#include "mcp_era.h"
#include "mcp_json.h"
#include "mcp_protocol.h"

/* The 2026-era revisions served, newest first. */
static const char *const modern_versions[] = { MCP_ERA_MODERN_LATEST, NULL };

#define SENTINEL_PREFIX     "=?base64?"
#define SENTINEL_PREFIX_LEN 9
#define SENTINEL_SUFFIX     "?="
#define SENTINEL_SUFFIX_LEN 2

/* Header values and body values echoed in messages are cut to this (the
 * message as a whole is bounded by mcp_rpc_error as well). */
#define ECHO_MAX 64

/* x-mcp-header annotations are looked for this deep in nested
 * "properties" (the spec allows chains of properties keys only). */
#define PARAM_DEPTH_MAX 8

int mcp_era_supported(const char *version)
{
    int i;
    for (i = 0; version && modern_versions[i]; i++) {
        if (!strcmp(version, modern_versions[i])) {
            return 1;
        }
    }
    return 0;
}

json_t *mcp_era_supported_list(void)
{
    json_t *a = json_array();
    int i;
    for (i = 0; modern_versions[i]; i++) {
        json_array_append_new(a, json_string(modern_versions[i]));
    }
    return a;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* s trimmed of SP/HTAB (RFC 9110 OWS): *len bytes from the result. */
static const char *trim(const char *s, apr_size_t *len)
{
    apr_size_t n = strlen(s);
    while (n && is_blank(*s)) {
        s++;
        n--;
    }
    while (n && is_blank(s[n - 1])) {
        n--;
    }
    *len = n;
    return s;
}

/* The trimmed header as a string from p; NULL when absent or empty. */
static const char *trimmed(apr_pool_t *p, const char *raw)
{
    apr_size_t n;
    const char *s;
    if (!raw) {
        return NULL;
    }
    s = trim(raw, &n);
    return n ? apr_pstrmemdup(p, s, n) : NULL;
}

/* Whether the n bytes at s name a session revision. */
static int session_revision(const char *s, apr_size_t n)
{
    char v[16];
    if (n >= sizeof(v)) {
        return 0;
    }
    memcpy(v, s, n);
    v[n] = '\0';
    return mcp_protocol_supported(v);
}

int mcp_era_header_modern(const char *version_header, int in_session)
{
    apr_size_t n;
    const char *s;
    int i;

    if (!version_header) {
        return 0;
    }
    s = trim(version_header, &n);
    if (!n || session_revision(s, n)) {
        return 0;
    }
    if (!in_session) {
        return 1;
    }
    /* in a session, only a revision served without one leaves it */
    for (i = 0; modern_versions[i]; i++) {
        if (strlen(modern_versions[i]) == n
            && !memcmp(s, modern_versions[i], n)) {
            return 1;
        }
    }
    return 0;
}

static const mcp_msg_t *first_msg(const mcp_batch_t *b)
{
    return b && b->msgs && b->msgs->nelts
           ? &APR_ARRAY_IDX(b->msgs, 0, mcp_msg_t) : NULL;
}

static json_t *meta_of(const mcp_msg_t *m)
{
    return m && m->params ? json_object_get(m->params, "_meta") : NULL;
}

mcp_era_e mcp_era_classify(const mcp_batch_t *b, const char *version_header,
                           int in_session)
{
    json_t *meta;

    if (mcp_era_header_modern(version_header, in_session)) {
        return MCP_ERA_MODERN;
    }
    /* a claim of any type makes the request modern: the envelope check
     * then says what is wrong with it, rather than the session rules */
    meta = meta_of(first_msg(b));
    if (json_is_object(meta)
        && json_object_get(meta, MCP_META_PROTOCOL_VERSION)) {
        return MCP_ERA_MODERN;
    }
    return MCP_ERA_LEGACY;
}

/* ------------------------------------------------------------------ */
/* Header values */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Strict standard base64 (RFC 4648 section 4): whole quanta, "=" only
 * as the padding of the last one. The decoded bytes (NUL-terminated)
 * from p, or NULL. A lenient decoder would let two different header
 * values name the same body value; the conformance suite requires bad
 * padding and foreign characters to be refused. */
static char *b64_decode_strict(apr_pool_t *p, const char *s, apr_size_t n,
                               apr_size_t *outlen)
{
    apr_size_t i, o = 0;
    char *out;

    if (n % 4) {
        return NULL;
    }
    out = apr_palloc(p, n / 4 * 3 + 1);
    for (i = 0; i < n; i += 4) {
        int v[4], k, pad = 0;
        for (k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            if (c == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad || (v[k] = b64_value(c)) < 0) {
                return NULL;        /* a character after "=", or foreign */
            }
        }
        out[o++] = (char)(v[0] << 2 | v[1] >> 4);
        if (pad < 2) {
            out[o++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
        }
        if (pad < 1) {
            out[o++] = (char)((v[2] & 3) << 6 | v[3]);
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

const char *mcp_era_header_value(apr_pool_t *p, const char *raw,
                                 int *malformed)
{
    apr_size_t n, i, dlen;
    const char *s;
    char *d;

    *malformed = 0;
    if (!raw) {
        return NULL;
    }
    s = trim(raw, &n);
    /* a field value holds visible ASCII, SP and HTAB (RFC 9110 5.5);
     * anything else must come base64-encoded, so a raw one is refused */
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c >= 0x7f) {
            *malformed = 1;
            return NULL;
        }
    }
    /* prefix and suffix both, lowercase and exact; either one alone
     * makes a literal value */
    if (n < SENTINEL_PREFIX_LEN + SENTINEL_SUFFIX_LEN
        || memcmp(s, SENTINEL_PREFIX, SENTINEL_PREFIX_LEN)
        || memcmp(s + n - SENTINEL_SUFFIX_LEN, SENTINEL_SUFFIX,
                  SENTINEL_SUFFIX_LEN)) {
        return apr_pstrmemdup(p, s, n);
    }
    d = b64_decode_strict(p, s + SENTINEL_PREFIX_LEN,
                          n - SENTINEL_PREFIX_LEN - SENTINEL_SUFFIX_LEN, &dlen);
    /* text only: no NUL (it would cut the value short) and valid UTF-8 */
    if (!d || memchr(d, '\0', dlen) || !mcp_json_utf8_valid(d, dlen)) {
        *malformed = 1;
        return NULL;
    }
    return d;
}

/* ------------------------------------------------------------------ */
/* The checks */

static mcp_era_error_t *fail(apr_pool_t *p, int status, int code,
                             const char *message, json_t *data)
{
    mcp_era_error_t *e = apr_pcalloc(p, sizeof(*e));
    e->status = status;
    e->code = code;
    e->message = message;
    e->data = data;
    return e;
}

/* A -32020 naming the header. */
static mcp_era_error_t *mismatch(apr_pool_t *p, const char *header,
                                 const char *message)
{
    return fail(p, 400, MCP_ERR_HEADER_MISMATCH,
                apr_pstrcat(p, "Header mismatch: ", message, NULL),
                json_pack("{s:s}", "header", header));
}

/* s cut to ECHO_MAX bytes for a message (mcp_rpc_error makes it UTF-8). */
static const char *echo(apr_pool_t *p, const char *s, apr_size_t n)
{
    return n > ECHO_MAX ? apr_pstrcat(p, apr_pstrmemdup(p, s, ECHO_MAX),
                                      "...", NULL)
                        : apr_pstrmemdup(p, s, n);
}

static const char *echo_json(apr_pool_t *p, json_t *s)
{
    return echo(p, json_string_value(s), json_string_length(s));
}

static int same(const char *h, json_t *body)
{
    apr_size_t n = strlen(h);
    return n == json_string_length(body)
           && !memcmp(h, json_string_value(body), n);
}

mcp_era_error_t *mcp_era_check(apr_pool_t *p, const mcp_batch_t *b,
                               mcp_era_header_fn *header, void *baton)
{
    const mcp_msg_t *m = first_msg(b);
    const char *v, *hv;
    json_t *meta, *claim, *caps, *bodyname;
    int bad;

    /* a. one request or notification per POST */
    if (!m || b->is_array) {
        return fail(p, 400, MCP_ERR_INVALID_REQUEST,
                    "Invalid Request: a 2026-07-28 POST carries one message,"
                    " never a batch", NULL);
    }
    if (m->kind == MCP_MSG_RESPONSE) {
        return fail(p, 400, MCP_ERR_INVALID_REQUEST,
                    "Invalid Request: a 2026-07-28 server sends no requests,"
                    " so a posted response answers nothing", NULL);
    }
    v = trimmed(p, header(baton, "MCP-Protocol-Version"));
    meta = meta_of(m);
    claim = json_is_object(meta)
            ? json_object_get(meta, MCP_META_PROTOCOL_VERSION) : NULL;

    /* 1. a session-era handshake under a 2026 header: no session is
     * started on a request whose header says it has none */
    if (!claim && m->method && !strcmp(m->method, "initialize")) {
        return mismatch(p, "MCP-Protocol-Version", apr_psprintf(p,
                        "MCP-Protocol-Version is '%s' but initialize belongs"
                        " to the session revisions (%s)",
                        v ? echo(p, v, strlen(v)) : "",
                        MCP_PROTOCOL_VERSIONS));
    }

    /* b. the header must mirror the claim; a non-string claim is c's */
    if (claim && !v) {
        return mismatch(p, "MCP-Protocol-Version",
                        "MCP-Protocol-Version is missing but _meta carries "
                        MCP_META_PROTOCOL_VERSION);
    }
    if (json_is_string(claim) && !same(v, claim)) {
        return mismatch(p, "MCP-Protocol-Version", apr_psprintf(p,
                        "MCP-Protocol-Version is '%s' but _meta's "
                        MCP_META_PROTOCOL_VERSION " is '%s'",
                        echo(p, v, strlen(v)), echo_json(p, claim)));
    }

    /* c. the envelope */
    if (!json_is_object(meta)) {
        return fail(p, 400, MCP_ERR_INVALID_PARAMS,
                    "Invalid params: _meta is required (with "
                    MCP_META_PROTOCOL_VERSION " and "
                    MCP_META_CLIENT_CAPABILITIES ")", NULL);
    }
    if (!claim) {
        return fail(p, 400, MCP_ERR_INVALID_PARAMS, "Invalid params: _meta."
                    MCP_META_PROTOCOL_VERSION " is required", NULL);
    }
    if (!json_is_string(claim)) {
        return fail(p, 400, MCP_ERR_INVALID_PARAMS, "Invalid params: _meta."
                    MCP_META_PROTOCOL_VERSION " must be a string", NULL);
    }
    caps = json_object_get(meta, MCP_META_CLIENT_CAPABILITIES);
    if (!caps) {
        return fail(p, 400, MCP_ERR_INVALID_PARAMS, "Invalid params: _meta."
                    MCP_META_CLIENT_CAPABILITIES " is required", NULL);
    }
    if (!json_is_object(caps)) {
        return fail(p, 400, MCP_ERR_INVALID_PARAMS, "Invalid params: _meta."
                    MCP_META_CLIENT_CAPABILITIES " must be an object", NULL);
    }

    /* d. a revision this server serves */
    if (!mcp_era_supported(json_string_value(claim))) {
        json_t *data = json_pack("{s:o, s:O}", "supported",
                                 mcp_era_supported_list(), "requested", claim);
        return fail(p, 400, MCP_ERR_UNSUPPORTED_VERSION, apr_psprintf(p,
                    "Unsupported protocol version: '%s' (supported: %s)",
                    echo_json(p, claim), MCP_ERA_MODERN_LATEST), data);
    }

    /* e, f: header rules for notifications are not defined by 2026-07-28 */
    if (m->kind != MCP_MSG_REQUEST) {
        return NULL;
    }

    /* e. Mcp-Method: exact and case-sensitive after trimming */
    hv = trimmed(p, header(baton, "Mcp-Method"));
    if (!hv) {
        return mismatch(p, "Mcp-Method", apr_psprintf(p,
                        "Mcp-Method is missing; the body's method is '%s'",
                        echo(p, m->method, strlen(m->method))));
    }
    if (strcmp(hv, m->method)) {
        return mismatch(p, "Mcp-Method", apr_psprintf(p,
                        "Mcp-Method is '%s' but the body's method is '%s'",
                        echo(p, hv, strlen(hv)),
                        echo(p, m->method, strlen(m->method))));
    }

    /* f. Mcp-Name, where the body has the name or uri */
    if (!strcmp(m->method, "tools/call") || !strcmp(m->method, "prompts/get")) {
        bodyname = json_object_get(m->params, "name");
    }
    else if (!strcmp(m->method, "resources/read")) {
        bodyname = json_object_get(m->params, "uri");
    }
    else {
        return NULL;
    }
    if (!json_is_string(bodyname)) {
        return NULL;            /* the method refuses the params itself */
    }
    hv = header(baton, "Mcp-Name");
    if (!hv) {
        return mismatch(p, "Mcp-Name", apr_psprintf(p,
                        "Mcp-Name is missing; the body's %s is '%s'",
                        *m->method == 'r' ? "uri" : "name",
                        echo_json(p, bodyname)));
    }
    hv = mcp_era_header_value(p, hv, &bad);
    if (bad) {
        return mismatch(p, "Mcp-Name", "Mcp-Name holds a character a header"
                        " may not carry, or a malformed =?base64?...?= value");
    }
    if (!same(hv, bodyname)) {
        return mismatch(p, "Mcp-Name", apr_psprintf(p,
                        "Mcp-Name is '%s' but the body's %s is '%s'",
                        echo(p, hv, strlen(hv)),
                        *m->method == 'r' ? "uri" : "name",
                        echo_json(p, bodyname)));
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Mcp-Param-{Name} */

/* An x-mcp-header name: an RFC 9110 token (an invalid annotation makes
 * clients drop the tool, so the server expects no header for it). */
static int is_token(const char *s)
{
    static const char tchar_extra[] = "!#$%&'*+-.^_`|~";
    if (!*s) {
        return 0;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || strchr(tchar_extra, c))) {
            return 0;
        }
    }
    return 1;
}

/* Whether the decoded header h equals the argument's value: strings
 * byte for byte, numbers numerically (integers exactly, "42.0" is 42),
 * booleans as "true"/"false". */
static int param_equal(apr_pool_t *p, const char *h, json_t *val)
{
    json_t *num;
    apr_size_t n;

    switch (json_typeof(val)) {
    case JSON_STRING:
        return same(h, val);
    case JSON_TRUE:
        return !strcmp(h, "true");
    case JSON_FALSE:
        return !strcmp(h, "false");
    case JSON_INTEGER:
    case JSON_REAL:
        /* the JSON number grammar, read without the locale; no blanks
         * around it (a decoded value may hold some) */
        n = strlen(h);
        num = n && (*h == '-' || (*h >= '0' && *h <= '9'))
              && h[n - 1] >= '0' && h[n - 1] <= '9'
              ? mcp_json_parse(p, h, n) : NULL;
        if (!json_is_number(num)) {
            return 0;
        }
        if (json_is_integer(val) && json_is_integer(num)) {
            return json_integer_value(val) == json_integer_value(num);
        }
        if (json_is_integer(val)) {
            return json_number_value(num)
                   == (double)json_integer_value(val);
        }
        /* `number` is not allowed for x-mcp-header; a client that mirrors
         * one anyway prints it with its own digits (as the suite does) */
        {
            double a = json_number_value(val), d = json_number_value(num) - a;
            double scale = a < -1.0 ? -a : a > 1.0 ? a : 1.0;
            return (d < 0 ? -d : d) <= 1e-9 * scale;
        }
    default:
        return 1;   /* not a primitive: no header form is defined */
    }
}

static mcp_era_error_t *check_props(apr_pool_t *p, json_t *props,
                                    json_t *args, mcp_era_header_fn *header,
                                    void *baton, int depth)
{
    const char *key;
    json_t *prop;

    if (!json_is_object(props) || depth > PARAM_DEPTH_MAX) {
        return NULL;
    }
    json_object_foreach(props, key, prop) {
        json_t *name, *val = json_is_object(args)
                             ? json_object_get(args, key) : NULL;
        const char *hname, *raw, *h;
        mcp_era_error_t *e;
        int bad;

        if (!json_is_object(prop)) {
            continue;
        }
        name = json_object_get(prop, "x-mcp-header");
        if (json_is_string(name) && is_token(json_string_value(name))
            && val && !json_is_null(val)) {
            hname = apr_pstrcat(p, "Mcp-Param-", json_string_value(name),
                                NULL);
            raw = header(baton, hname);
            if (!raw) {
                return mismatch(p, hname, apr_psprintf(p,
                                "%s is missing; the argument '%s' is in the"
                                " body", hname, echo(p, key, strlen(key))));
            }
            h = mcp_era_header_value(p, raw, &bad);
            if (bad) {
                return mismatch(p, hname, apr_psprintf(p,
                                "%s holds a character a header may not"
                                " carry, or a malformed =?base64?...?= value",
                                hname));
            }
            if (!param_equal(p, h, val)) {
                return mismatch(p, hname, apr_psprintf(p,
                                "%s is '%s', which is not the value of the"
                                " argument '%s'", hname,
                                echo(p, h, strlen(h)),
                                echo(p, key, strlen(key))));
            }
        }
        /* nested objects: every step a properties key */
        e = check_props(p, json_object_get(prop, "properties"), val, header,
                        baton, depth + 1);
        if (e) {
            return e;
        }
    }
    return NULL;
}

mcp_era_error_t *mcp_era_check_params(apr_pool_t *p, json_t *schema,
                                      json_t *arguments,
                                      mcp_era_header_fn *header, void *baton)
{
    if (!json_is_object(schema) || !header) {
        return NULL;
    }
    return check_props(p, json_object_get(schema, "properties"), arguments,
                       header, baton, 0);
}
