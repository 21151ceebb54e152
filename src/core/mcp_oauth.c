/*
 * OAuth protected-resource pieces of the core: Bearer challenges, the
 * RFC 9728 document, scopes and resource URLs (see mcp_oauth.h).
 */
#include <stdlib.h>
#include <string.h>
#include "apr_lib.h"
#include "apr_strings.h"
#include "apr_uri.h"
#include "mcp_json.h"
#include "mcp_oauth.h"

#define MCP_OAUTH_RM    "resource_metadata"
#define MCP_OAUTH_SCOPE "scope"

const char *mcp_oauth_quote(apr_pool_t *p, const char *s)
{
    apr_size_t n = 2, i;
    const char *c;
    char *out;

    if (!s) {
        s = "";
    }
    for (c = s; *c; c++) {
        n += (*c == '"' || *c == '\\') ? 2 : 1;
    }
    out = apr_palloc(p, n + 1);
    i = 0;
    out[i++] = '"';
    for (c = s; *c; c++) {
        unsigned char ch = (unsigned char)*c;
        if (ch == '"' || ch == '\\') {
            out[i++] = '\\';
            out[i++] = (char)ch;
        }
        else if (ch < 0x20 || ch == 0x7f) {
            out[i++] = ' ';     /* a header cannot carry it, escaped or not */
        }
        else {
            out[i++] = (char)ch;
        }
    }
    out[i++] = '"';
    out[i] = '\0';
    return out;
}

static int present(const char *s)
{
    return s && *s;
}

/* Appends `sep name=quoted` to the list of parts. */
static void add_param(apr_array_header_t *parts, const char **sep,
                      const char *name, const char *quoted)
{
    APR_ARRAY_PUSH(parts, const char *) = *sep;
    APR_ARRAY_PUSH(parts, const char *) = name;
    APR_ARRAY_PUSH(parts, const char *) = "=";
    APR_ARRAY_PUSH(parts, const char *) = quoted;
    *sep = ", ";
}

const char *mcp_oauth_challenge_new(apr_pool_t *p,
                                    const mcp_oauth_challenge_t *c)
{
    apr_array_header_t *parts = apr_array_make(p, 17, sizeof(const char *));
    const char *sep = " ";

    APR_ARRAY_PUSH(parts, const char *) = "Bearer";
    if (c) {
        if (present(c->error)) {
            add_param(parts, &sep, "error", mcp_oauth_quote(p, c->error));
        }
        if (present(c->error_description)) {
            add_param(parts, &sep, "error_description",
                      mcp_oauth_quote(p, c->error_description));
        }
        if (present(c->resource_metadata)) {
            add_param(parts, &sep, MCP_OAUTH_RM,
                      mcp_oauth_quote(p, c->resource_metadata));
        }
        if (present(c->scope)) {
            add_param(parts, &sep, MCP_OAUTH_SCOPE, mcp_oauth_quote(p, c->scope));
        }
    }
    return apr_array_pstrcat(p, parts, '\0');
}

/* ------------------------------------------------------------------ */
/* RFC 9110 §11 challenge lists */

/* tchar (RFC 9110 §5.6.2) */
static int is_tchar(unsigned char ch)
{
    return apr_isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* token68 characters before its "=" padding (RFC 9110 §11.2) */
static int is_t68(unsigned char ch)
{
    return apr_isalnum(ch) || (ch && strchr("-._~+/", ch));
}

static int is_ws(unsigned char ch)
{
    return ch == ' ' || ch == '\t';
}

static apr_size_t skip_ws(const char *s, apr_size_t i)
{
    while (is_ws((unsigned char)s[i])) {
        i++;
    }
    return i;
}

static apr_size_t token_end(const char *s, apr_size_t i)
{
    while (is_tchar((unsigned char)s[i])) {
        i++;
    }
    return i;
}

/* The end of the quoted-string opening at s[i] (just past its closing
 * quote), or 0 when it is unterminated or holds a control character. */
static apr_size_t quoted_end(const char *s, apr_size_t i)
{
    unsigned char ch;

    for (i++; (ch = (unsigned char)s[i]) != '"'; i++) {
        if (ch == '\\') {
            ch = (unsigned char)s[++i];
        }
        if (!ch || ((ch < 0x20 && ch != '\t') || ch == 0x7f)) {
            return 0;
        }
    }
    return i + 1;
}

/* An auth-param at s[i]: token BWS "=" BWS ( token / quoted-string ).
 * Its end, or 0 when there is none (*bad set when it started as one:
 * name and "=" but no valid value). */
static apr_size_t param_end(const char *s, apr_size_t i, int *bad)
{
    apr_size_t j = token_end(s, i), k;

    *bad = 0;
    if (j == i) {
        return 0;
    }
    k = skip_ws(s, j);
    if (s[k] != '=') {
        return 0;
    }
    k = skip_ws(s, k + 1);
    if (s[k] == '"') {
        if (!(k = quoted_end(s, k))) {
            *bad = 1;
        }
        return k;
    }
    j = token_end(s, k);
    if (j == k) {
        /* "name=" then nothing: a token68 ("abc=") or an error the
         * caller tells apart */
        return 0;
    }
    return j;
}

/* A token68 at s[i] that ends the challenge (OWS then "," or the end). */
static apr_size_t token68_end(const char *s, apr_size_t i)
{
    apr_size_t j = i, k;

    while (is_t68((unsigned char)s[j])) {
        j++;
    }
    if (j == i) {
        return 0;
    }
    while (s[j] == '=') {
        j++;
    }
    k = skip_ws(s, j);
    return (s[k] == ',' || !s[k]) ? j : 0;
}

/* Where our parameters go in one Bearer challenge. */
typedef struct bearer_t {
    apr_size_t at;          /* insert here: the end of its last element */
    int params;             /* it has auth-params (else "Bearer" alone) */
    int has_rm, has_scope;
} bearer_t;

static int name_is(const char *s, apr_size_t i, apr_size_t end,
                   const char *name)
{
    apr_size_t n = strlen(name);
    return end - i == n && !strncasecmp(s + i, name, n);
}

/* A parameter s[i..j) of the challenge cur (NULL: not a Bearer). */
static void note_param(bearer_t *cur, const char *s, apr_size_t i, apr_size_t j)
{
    apr_size_t k = token_end(s, i);

    if (cur) {
        cur->has_rm |= name_is(s, i, k, MCP_OAUTH_RM);
        cur->has_scope |= name_is(s, i, k, MCP_OAUTH_SCOPE);
        cur->params = 1;
        cur->at = j;
    }
}

/* Parses the list in one pass, no recursion; every Bearer challenge
 * (but one with a token68, which RFC 6750 does not allow and which we
 * cannot add to) goes into `found`. 0, or -1 when it does not parse. */
static int parse_challenges(const char *s, apr_array_header_t *found)
{
    /* in: 0 before the first challenge, 1 in a challenge that may take
     * more auth-params, 2 after a token68 (only a new challenge follows) */
    int in = 0, bad;
    bearer_t *cur = NULL;
    apr_size_t i = 0, j, k;

    for (;;) {
        /* OWS and empty list elements */
        while (is_ws((unsigned char)s[i]) || s[i] == ',') {
            i++;
        }
        if (!s[i]) {
            return 0;
        }
        j = 0;
        if (in == 1) {
            /* another auth-param of this challenge, or a new challenge */
            j = param_end(s, i, &bad);
            if (bad) {
                return -1;
            }
            if (j) {
                note_param(cur, s, i, j);
            }
        }
        if (!j) {
            /* auth-scheme [ 1*SP ( token68 / #auth-param ) ] */
            j = token_end(s, i);
            if (j == i) {
                return -1;  /* "=" with nothing before, a stray quote, ... */
            }
            cur = NULL;
            if (name_is(s, i, j, "Bearer")) {
                cur = apr_array_push(found);
                cur->at = j;
                cur->params = cur->has_rm = cur->has_scope = 0;
            }
            in = 1;
            k = skip_ws(s, j);
            if (s[k] && s[k] != ',') {
                if (k == j) {
                    return -1;  /* "Bearer=x", "Basic\"x\"" */
                }
                i = k;
                j = param_end(s, i, &bad);
                if (bad) {
                    return -1;
                }
                if (j) {
                    note_param(cur, s, i, j);
                }
                else if ((j = token68_end(s, i))) {
                    if (cur) {
                        found->nelts--;     /* Bearer abc==: left alone */
                        cur = NULL;
                    }
                    in = 2;
                }
                else {
                    return -1;
                }
            }
        }
        /* after an element: OWS, then "," or the end */
        i = skip_ws(s, j);
        if (s[i] && s[i] != ',') {
            return -1;
        }
    }
}

const char *mcp_oauth_challenge_merge(apr_pool_t *p, const char *value,
                                      const mcp_oauth_challenge_t *c,
                                      int *bearer)
{
    apr_array_header_t *found = apr_array_make(p, 2, sizeof(bearer_t));
    apr_array_header_t *parts;
    const char *rm = NULL, *scope = NULL;
    apr_size_t from = 0;
    int i, changed = 0;

    if (!value) {
        *bearer = 0;
        return value;
    }
    if (parse_challenges(value, found)) {
        *bearer = -1;
        return value;
    }
    *bearer = found->nelts;
    if (c && present(c->resource_metadata)) {
        rm = mcp_oauth_quote(p, c->resource_metadata);
    }
    if (c && present(c->scope)) {
        scope = mcp_oauth_quote(p, c->scope);
    }
    parts = apr_array_make(p, found->nelts * 7 + 1, sizeof(const char *));
    for (i = 0; i < found->nelts; i++) {
        const bearer_t *b = &APR_ARRAY_IDX(found, i, bearer_t);
        const char *sep = b->params ? ", " : " ";
        if ((!rm || b->has_rm) && (!scope || b->has_scope)) {
            continue;
        }
        APR_ARRAY_PUSH(parts, const char *) =
            apr_pstrmemdup(p, value + from, b->at - from);
        from = b->at;
        if (rm && !b->has_rm) {
            add_param(parts, &sep, MCP_OAUTH_RM, rm);
        }
        if (scope && !b->has_scope) {
            add_param(parts, &sep, MCP_OAUTH_SCOPE, scope);
        }
        changed = 1;
    }
    if (!changed) {
        return value;
    }
    APR_ARRAY_PUSH(parts, const char *) = value + from;
    return apr_array_pstrcat(p, parts, '\0');
}

/* ------------------------------------------------------------------ */
/* Scopes */

int mcp_oauth_scope_valid(const char *scope)
{
    const unsigned char *c = (const unsigned char *)scope;

    if (!c || !*c) {
        return 0;
    }
    for (; *c; c++) {
        if (*c < 0x21 || *c > 0x7e || *c == '"' || *c == '\\') {
            return 0;
        }
    }
    return 1;
}

apr_array_header_t *mcp_oauth_scopes_parse(apr_pool_t *p, const char *s)
{
    apr_array_header_t *a = apr_array_make(p, 4, sizeof(const char *));
    const char *start;

    if (!s) {
        return a;
    }
    while (*s) {
        if (*s == ' ' || *s == '\t' || *s == ',') {
            s++;
            continue;
        }
        start = s;
        while (*s && *s != ' ' && *s != '\t' && *s != ',') {
            s++;
        }
        APR_ARRAY_PUSH(a, const char *) = apr_pstrmemdup(p, start, s - start);
    }
    return a;
}

static int scopes_has(const apr_array_header_t *a, const char *s)
{
    int i;

    for (i = 0; a && i < a->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(a, i, const char *), s)) {
            return 1;
        }
    }
    return 0;
}

apr_array_header_t *mcp_oauth_scopes_missing(apr_pool_t *p,
                                             const apr_array_header_t *required,
                                             const apr_array_header_t *granted)
{
    apr_array_header_t *out = apr_array_make(p, 2, sizeof(const char *));
    int i;

    for (i = 0; required && i < required->nelts; i++) {
        const char *s = APR_ARRAY_IDX(required, i, const char *);
        if (!scopes_has(granted, s) && !scopes_has(out, s)) {
            APR_ARRAY_PUSH(out, const char *) = s;
        }
    }
    return out;
}

const char *mcp_oauth_scopes_join(apr_pool_t *p, const apr_array_header_t *a,
                                  const apr_array_header_t *b)
{
    apr_array_header_t *all = apr_array_make(p, 4, sizeof(const char *));
    const apr_array_header_t *from[2];
    int i, k;

    from[0] = a;
    from[1] = b;
    for (k = 0; k < 2; k++) {
        for (i = 0; from[k] && i < from[k]->nelts; i++) {
            const char *s = APR_ARRAY_IDX(from[k], i, const char *);
            if (*s && !scopes_has(all, s)) {
                APR_ARRAY_PUSH(all, const char *) = s;
            }
        }
    }
    if (!all->nelts) {
        return NULL;
    }
    return apr_array_pstrcat(p, all, ' ');
}

/* ------------------------------------------------------------------ */
/* Resource URLs */

/* The URL parsed and checked: NULL, or why not. */
static const char *url_parse(apr_pool_t *p, const char *url, int query_ok,
                             apr_uri_t *u, int *port)
{
    const unsigned char *c;
    char *end;
    long n;

    if (!url || !*url) {
        return "the URL is empty";
    }
    for (c = (const unsigned char *)url; *c; c++) {
        if (*c <= 0x20 || *c == 0x7f || *c == '"' || *c == '\\') {
            return "the URL holds a blank, a control character, a quote or a backslash";
        }
    }
    if (strchr(url, '#')) {
        return "a fragment (#...) is not allowed";
    }
    if (!query_ok && strchr(url, '?')) {
        return "a query (?...) is not allowed";
    }
    if (apr_uri_parse(p, url, u) != APR_SUCCESS) {
        return "not a valid URL";
    }
    if (!u->scheme) {
        return "not an absolute URL (no scheme)";
    }
    if (strcasecmp(u->scheme, "https") && strcasecmp(u->scheme, "http")) {
        return "the scheme must be https or http";
    }
    if (!u->hostinfo || !u->hostname || !*u->hostname) {
        return "the URL has no host";
    }
    if (u->user || u->password || strchr(u->hostinfo, '@')) {
        return "user information (user@) is not allowed";
    }
    *port = 0;
    if (u->port_str && *u->port_str) {
        n = strtol(u->port_str, &end, 10);
        if (*end || n < 1 || n > 65535 || !apr_isdigit(*u->port_str)) {
            return "the port is not a number from 1 to 65535";
        }
        *port = (int)n;
    }
    return NULL;
}

const char *mcp_oauth_url_problem(apr_pool_t *p, const char *url, int query_ok)
{
    apr_uri_t u;
    int port;

    return url_parse(p, url, query_ok, &u, &port);
}

/* scheme://host[:port] lowercased, default port left out; the path
 * (never empty) in *path. NULL when url is not a resource URL. */
static const char *origin_of(apr_pool_t *p, const char *url, const char **path)
{
    apr_uri_t u;
    char *scheme, *host, *c;
    const char *port = "";
    int n;

    if (url_parse(p, url, 0, &u, &n)) {
        return NULL;
    }
    scheme = apr_pstrdup(p, u.scheme);
    host = apr_pstrdup(p, u.hostname);
    for (c = scheme; *c; c++) {
        *c = apr_tolower(*c);
    }
    for (c = host; *c; c++) {
        *c = apr_tolower(*c);
    }
    if (n && !(n == 443 && !strcmp(scheme, "https"))
          && !(n == 80 && !strcmp(scheme, "http"))) {
        port = apr_psprintf(p, ":%d", n);
    }
    *path = (u.path && *u.path) ? u.path : "/";
    /* apr_uri_parse took the brackets off an IPv6 literal */
    return apr_pstrcat(p, scheme, "://", strchr(host, ':') ? "[" : "", host,
                       strchr(host, ':') ? "]" : "", port, NULL);
}

const char *mcp_oauth_resource_canonical(apr_pool_t *p, const char *url)
{
    const char *path, *origin = origin_of(p, url, &path);
    apr_size_t n;

    if (!origin) {
        return NULL;
    }
    n = strlen(path);
    while (n > 1 && path[n - 1] == '/') {
        n--;
    }
    return apr_pstrcat(p, origin, apr_pstrmemdup(p, path, n), NULL);
}

const char *mcp_oauth_metadata_path(apr_pool_t *p, const char *resource)
{
    const char *canon = mcp_oauth_resource_canonical(p, resource), *path;

    if (!canon || !origin_of(p, canon, &path)) {
        return NULL;
    }
    return strcmp(path, "/") ? apr_pstrcat(p, MCP_OAUTH_WELL_KNOWN, path, NULL)
                             : MCP_OAUTH_WELL_KNOWN;
}

const char *mcp_oauth_metadata_url(apr_pool_t *p, const char *resource)
{
    const char *canon = mcp_oauth_resource_canonical(p, resource), *path, *origin;

    if (!canon || !(origin = origin_of(p, canon, &path))) {
        return NULL;
    }
    return apr_pstrcat(p, origin, mcp_oauth_metadata_path(p, canon), NULL);
}

/* ------------------------------------------------------------------ */
/* The RFC 9728 document */

/* o[name] = s; 0, or -1 when jansson refuses it (not UTF-8, no memory) */
static int set_string(json_t *o, const char *name, const char *s)
{
    return json_object_set_new(o, name, json_string(s));
}

static json_t *string_array(const apr_array_header_t *a)
{
    json_t *arr = json_array();
    int i;

    for (i = 0; arr && i < a->nelts; i++) {
        const char *s = APR_ARRAY_IDX(a, i, const char *);
        if (!s || json_array_append_new(arr, json_string(s))) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

char *mcp_oauth_metadata_json(apr_pool_t *p, const mcp_oauth_metadata_t *m)
{
    json_t *o = NULL, *methods;
    char *out = NULL;

    if (!m || !present(m->resource) || !m->authorization_servers
        || !m->authorization_servers->nelts) {
        goto leave;
    }
    /* jansson keeps insertion order: the fields come out as set here */
    o = json_object();
    if (!o || set_string(o, "resource", m->resource)
        || json_object_set_new(o, "authorization_servers",
                               string_array(m->authorization_servers))) {
        goto leave;
    }
    if (m->scopes_supported && m->scopes_supported->nelts
        && json_object_set_new(o, "scopes_supported",
                               string_array(m->scopes_supported))) {
        goto leave;
    }
    methods = json_array();
    if (json_object_set_new(o, "bearer_methods_supported", methods)
        || json_array_append_new(methods, json_string("header"))) {
        goto leave;
    }
    if (present(m->resource_name)
        && set_string(o, "resource_name", m->resource_name)) {
        goto leave;
    }
    if (present(m->resource_documentation)
        && set_string(o, "resource_documentation", m->resource_documentation)) {
        goto leave;
    }
    /* Written into pool memory by the core's dumper (what jansson's
     * JSON_COMPACT writes): a json_dumps() buffer would have to be freed
     * with jansson's allocator, which a co-loaded module (cjose, under
     * mod_auth_openidc) may have replaced. */
    out = mcp_json_dump(p, o, NULL);
leave:
    json_decref(o);
    return out;
}
