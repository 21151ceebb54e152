/*
 * mod_mcp_session_redis: the MCPSessionStore value (see mcpr.h).
 * httpd-free: APR and libc only.
 *
 *   redis://[user[:password]@]host[:port][/db][?opts]         rediss://...
 *   redis+sentinel://[user[:password]@]h1[:p1][,h2[:p2]...]/master[/db][?opts]
 *   redis+cluster://[user[:password]@]h1[:p1][,h2[:p2]...][?opts]   (no /db)
 *
 * The authority ends at the first '/' or '?'; the user part at its last
 * '@' (a password may hold '@'; '/', '?', '%' and ':' in a user name must
 * be percent-encoded). No message echoes a piece of a value that holds an
 * '@' or "password" anywhere: a badly encoded password could be that
 * piece; and none echoes the ?options (sentinel_password= is there).
 */
#include <stdlib.h>
#include <string.h>

#include "apr_lib.h"
#include "apr_strings.h"

#include "mcpr.h"

#define URL_FORMS "redis://[USER[:PASSWORD]@]HOST[:PORT][/DB][?OPTIONS], " \
    "rediss://..., redis+sentinel://[USER[:PASSWORD]@]HOST[:PORT][,HOST" \
    "[:PORT]...]/MASTER[/DB][?OPTIONS], rediss+sentinel://..., " \
    "redis+cluster://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]...]" \
    "[?OPTIONS], rediss+cluster://...; HOST a name, an IPv4 address or " \
    "[IPv6]"
#define URL_OPTIONS "connect_timeout=N[ms|s], pool_max=N, name=CLIENTNAME; " \
    "TLS schemes: sni=NAME, verify=full|ca|none; Sentinel schemes: " \
    "sentinel_user=USER, sentinel_password=PASSWORD"
/* Upper bounds that keep a typo from becoming a silly setting. */
#define URL_MAX_CONNECT_TIMEOUT apr_time_from_sec(60)
#define URL_MAX_POOL            4096

typedef struct url_parse_t {
    apr_pool_t *p;
    const char *spec;
    int secret;                     /* an '@' somewhere: echo nothing */
} url_parse_t;

static const struct {
    const char *name;
    mcpr_mode_e mode;
    int tls;
} url_schemes[] = {
    { "redis",           MCPR_SINGLE,   0 },
    { "rediss",          MCPR_SINGLE,   1 },
    { "redis+sentinel",  MCPR_SENTINEL, 0 },
    { "rediss+sentinel", MCPR_SENTINEL, 1 },
    { "redis+cluster",   MCPR_CLUSTER,  0 },
    { "rediss+cluster",  MCPR_CLUSTER,  1 }
};

/* " 'tok'" when it may be shown, else "" */
static const char *shown(url_parse_t *u, const char *tok, apr_size_t len)
{
    if (u->secret) {
        return "";
    }
    return apr_psprintf(u->p, " '%.*s'", (int)len, tok);
}

static const char *fail(url_parse_t *u, const char *why)
{
    return apr_psprintf(u->p, "%s: %s", u->secret
                        ? "(the address is not repeated: it holds a "
                          "password)"
                        : apr_psprintf(u->p, "'%.*s'",
                                       (int)strcspn(u->spec, "?"), u->spec),
                        why);
}

/* 1 when s holds "password" in any case. */
static int names_password(apr_pool_t *p, const char *s)
{
    char *l = apr_pstrdup(p, s), *c;

    for (c = l; *c; c++) {
        *c = (char)apr_tolower((unsigned char)*c);
    }
    return strstr(l, "password") != NULL;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = apr_tolower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* Percent-decode s[0..len); NULL when an escape is bad or gives NUL. */
static const char *pct_decode(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi, lo;

            if (i + 2 >= len) {
                return NULL;
            }
            hi = hexval((unsigned char)s[i + 1]);
            lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return NULL;
            }
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        }
        else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

static int valid_name(const char *h, apr_size_t len)
{
    apr_size_t i;

    if (len == 0 || len > 253 || h[0] == '-' || h[0] == '.') {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (!apr_isalnum(h[i]) && h[i] != '-' && h[i] != '.' && h[i] != '_') {
            return 0;
        }
    }
    return 1;
}

static int valid_ipv6(const char *h, apr_size_t len)
{
    apr_size_t i;
    int colons = 0, zone = 0;

    if (len < 2 || len > 63) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (zone) {
            if (!apr_isalnum(h[i]) && h[i] != '-' && h[i] != '_'
                && h[i] != '.') {
                return 0;
            }
        }
        else if (h[i] == '%' && i > 0) {
            zone = 1;
        }
        else if (h[i] == ':') {
            colons++;
        }
        else if (!apr_isxdigit(h[i]) && h[i] != '.') {
            return 0;
        }
    }
    return colons >= 2;
}

/* Digits only, within [min, max]. */
static int parse_int(const char *s, apr_size_t len, apr_int64_t min,
                     apr_int64_t max, apr_int64_t *out)
{
    apr_int64_t v = 0;
    apr_size_t i;

    if (len == 0 || len > 12) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (!apr_isdigit(s[i])) {
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max) {
        return 0;
    }
    *out = v;
    return 1;
}

/* One "host[:port]" of [s, s+len) into hp. */
static const char *parse_hostport(url_parse_t *u, const char *s,
                                  apr_size_t len, apr_port_t defport,
                                  mcpr_hostport_t *hp)
{
    const char *host = s, *port = NULL, *end = s + len;
    apr_size_t hlen, plen = 0;
    apr_int64_t pv = defport;

    if (len == 0) {
        return fail(u, "a host is empty (" URL_FORMS ")");
    }
    if (*s == '[') {
        const char *close = memchr(s, ']', len);

        if (!close) {
            return fail(u, apr_pstrcat(u->p, "an IPv6 address", shown(u, s, len),
                                       " lacks its ']'", NULL));
        }
        host = s + 1;
        hlen = (apr_size_t)(close - host);
        if (!valid_ipv6(host, hlen)) {
            return fail(u, apr_pstrcat(u->p, "not an IPv6 address:",
                                       shown(u, s, len), NULL));
        }
        if (close + 1 < end) {
            if (close[1] != ':') {
                return fail(u, apr_pstrcat(u->p, "after an IPv6 address "
                                           "comes ':PORT' or nothing:",
                                           shown(u, s, len), NULL));
            }
            port = close + 2;
            plen = (apr_size_t)(end - port);
        }
    }
    else {
        const char *colon = memchr(s, ':', len);

        hlen = colon ? (apr_size_t)(colon - s) : len;
        if (colon) {
            if (memchr(colon + 1, ':', (apr_size_t)(end - colon - 1))) {
                return fail(u, apr_pstrcat(u->p, "an IPv6 address goes in "
                                           "brackets, e.g. [::1]:6379:",
                                           shown(u, s, len), NULL));
            }
            port = colon + 1;
            plen = (apr_size_t)(end - port);
        }
        if (hlen == 0) {
            return fail(u, "a host is empty (" URL_FORMS ")");
        }
        if (!valid_name(host, hlen)) {
            return fail(u, apr_pstrcat(u->p, "not a host name or address:",
                                       shown(u, host, hlen), " (letters, "
                                       "digits, '-', '.', '_'; IPv6 in "
                                       "brackets)", NULL));
        }
    }
    if (port && !parse_int(port, plen, 1, 65535, &pv)) {
        return fail(u, apr_pstrcat(u->p, "bad port", shown(u, port, plen),
                                   ": 1-65535", NULL));
    }
    hp->host = apr_pstrmemdup(u->p, host, hlen);
    hp->port = (apr_port_t)pv;
    return NULL;
}

static const char *parse_timeout(url_parse_t *u, const char *v,
                                 apr_interval_time_t *out)
{
    apr_size_t len = strlen(v), digits = 0;
    apr_int64_t n;
    const char *unit;

    while (digits < len && apr_isdigit(v[digits])) {
        digits++;
    }
    unit = v + digits;
    if (!parse_int(v, digits, 0, 60000, &n)
        || (*unit && strcmp(unit, "ms") && strcmp(unit, "s"))) {
        return fail(u, apr_pstrcat(u->p, "connect_timeout=", v, ": a number "
                                   "with ms (the default unit) or s, at "
                                   "most 60 s", NULL));
    }
    *out = strcmp(unit, "s") ? apr_time_from_msec(n) : apr_time_from_sec(n);
    if (*out > URL_MAX_CONNECT_TIMEOUT) {
        return fail(u, apr_pstrcat(u->p, "connect_timeout=", v, ": at most "
                                   "60 s", NULL));
    }
    return NULL;
}

/* A CLIENT SETNAME name / an SNI name: visible ASCII, no space. */
static int visible(const char *v)
{
    if (!*v) {
        return 0;
    }
    for (; *v; v++) {
        if ((unsigned char)*v <= 0x20 || (unsigned char)*v >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

static const char *parse_options(url_parse_t *u, mcpr_url_t *url,
                                 const char *q)
{
    apr_hash_t *seen = apr_hash_make(u->p);

    while (*q) {
        const char *amp = strchr(q, '&'), *eq, *name, *v;
        apr_size_t len = amp ? (apr_size_t)(amp - q) : strlen(q), nlen;

        eq = memchr(q, '=', len);
        if (len == 0) {
            q = amp ? amp + 1 : q + len;
            continue;               /* "a=1&&b=2": harmless */
        }
        if (!eq || eq == q) {
            return fail(u, apr_pstrcat(u->p, "an option is NAME=VALUE:",
                                       shown(u, q, len), " (options: "
                                       URL_OPTIONS ")", NULL));
        }
        nlen = (apr_size_t)(eq - q);
        name = apr_pstrmemdup(u->p, q, nlen);
        v = pct_decode(u->p, eq + 1, len - nlen - 1);
        if (!v) {
            return fail(u, apr_pstrcat(u->p, "option ", name, ": a bad "
                                       "%-escape in its value", NULL));
        }
        if (apr_hash_get(seen, name, APR_HASH_KEY_STRING)) {
            return fail(u, apr_pstrcat(u->p, "option ", name, " is given "
                                       "twice", NULL));
        }
        apr_hash_set(seen, name, APR_HASH_KEY_STRING, name);

        if (!strcmp(name, "connect_timeout")) {
            const char *err = parse_timeout(u, v, &url->connect_timeout);
            if (err) {
                return err;
            }
        }
        else if (!strcmp(name, "pool_max")) {
            apr_int64_t n;
            if (!parse_int(v, strlen(v), 1, URL_MAX_POOL, &n)) {
                return fail(u, apr_psprintf(u->p, "pool_max=%s: a number "
                                            "of connections, 1-%d", v,
                                            URL_MAX_POOL));
            }
            url->pool_max = (int)n;
        }
        else if (!strcmp(name, "name")) {
            if (!visible(v)) {
                return fail(u, "name=: a client name of visible ASCII "
                            "characters without spaces");
            }
            url->client_name = v;
        }
        else if (!strcmp(name, "sni") || !strcmp(name, "verify")) {
            if (!url->tls) {
                return fail(u, apr_pstrcat(u->p, "option ", name, " is for "
                                           "TLS: use rediss://, "
                                           "rediss+sentinel:// or "
                                           "rediss+cluster://", NULL));
            }
            if (name[0] == 's') {
                if (!visible(v) || !valid_name(v, strlen(v))) {
                    return fail(u, apr_pstrcat(u->p, "sni=", v, ": a host "
                                               "name", NULL));
                }
                url->sni = v;
            }
            else if (!strcmp(v, "full")) {
                url->verify = MCPR_VERIFY_FULL;
            }
            else if (!strcmp(v, "ca")) {
                url->verify = MCPR_VERIFY_CA;
            }
            else if (!strcmp(v, "none")) {
                url->verify = MCPR_VERIFY_NONE;
            }
            else {
                return fail(u, apr_pstrcat(u->p, "verify=", v, ": full (the "
                                           "chain and the server's name or "
                                           "IP, the default), ca (the chain "
                                           "only) or none", NULL));
            }
        }
        else if (!strcmp(name, "sentinel_user")
                 || !strcmp(name, "sentinel_password")) {
            if (url->mode != MCPR_SENTINEL) {
                return fail(u, apr_pstrcat(u->p, "option ", name, " is for "
                                           "redis+sentinel:// and "
                                           "rediss+sentinel://", NULL));
            }
            if (!*v) {
                return fail(u, apr_pstrcat(u->p, "option ", name,
                                           " is empty", NULL));
            }
            if (name[9] == 'u') {
                url->sentinel_user = v;
            }
            else {
                url->sentinel_password = v;
            }
        }
        else {
            return fail(u, apr_pstrcat(u->p, "unknown option",
                                       shown(u, name, nlen), " (options: "
                                       URL_OPTIONS ")", NULL));
        }
        q = amp ? amp + 1 : q + len;
    }
    if (url->sentinel_user && !url->sentinel_password) {
        return fail(u, "sentinel_user needs sentinel_password");
    }
    return NULL;
}

const char *mcpr_url_parse(apr_pool_t *p, const char *spec, mcpr_url_t **out)
{
    url_parse_t U, *u = &U;
    mcpr_url_t *url;
    const char *sep, *auth, *aend, *path, *query, *at, *err;
    apr_size_t slen, i;
    apr_port_t defport;

    *out = NULL;
    u->p = p;
    u->spec = spec;
    /* sentinel_password= needs no '@': a misspelt or '&'-split one is
     * a token the messages would show */
    u->secret = strchr(spec, '@') != NULL || names_password(p, spec);

    sep = strstr(spec, "://");
    if (!sep) {
        return fail(u, "not a Redis address; the forms are " URL_FORMS);
    }
    url = apr_pcalloc(p, sizeof(*url));
    slen = (apr_size_t)(sep - spec);
    for (i = 0; i < sizeof(url_schemes) / sizeof(url_schemes[0]); i++) {
        if (strlen(url_schemes[i].name) == slen
            && !strncasecmp(spec, url_schemes[i].name, slen)) {
            url->scheme = url_schemes[i].name;
            url->mode = url_schemes[i].mode;
            url->tls = url_schemes[i].tls;
            break;
        }
    }
    if (!url->scheme) {
        return fail(u, "not a scheme of mod_mcp_session_redis; the forms "
                    "are " URL_FORMS);
    }
    url->db = -1;
    url->verify = MCPR_VERIFY_FULL;
    url->hosts = apr_array_make(p, 1, sizeof(mcpr_hostport_t));

    /* authority [path] [?query] */
    auth = sep + 3;
    aend = auth + strcspn(auth, "/?");
    path = *aend == '/' ? aend : NULL;
    query = strchr(aend, '?');
    if (strchr(auth, '#')) {
        return fail(u, "'#' has no meaning here (percent-encode it in a "
                    "password as %23)");
    }

    /* user[:password]@ */
    at = NULL;
    for (i = 0; auth + i < aend; i++) {
        if (auth[i] == '@') {
            at = auth + i;
        }
    }
    if (at) {
        const char *colon = memchr(auth, ':', (apr_size_t)(at - auth));
        apr_size_t ulen = colon ? (apr_size_t)(colon - auth)
                                : (apr_size_t)(at - auth);

        if (ulen) {
            url->user = pct_decode(p, auth, ulen);
            if (!url->user) {
                return fail(u, "a bad %-escape in the user name");
            }
        }
        if (colon) {
            url->password = pct_decode(p, colon + 1,
                                       (apr_size_t)(at - colon - 1));
            if (!url->password) {
                return fail(u, "a bad %-escape in the password");
            }
            if (!*url->password) {
                url->password = NULL;   /* "user:@host": none */
            }
        }
        auth = at + 1;
    }

    /* the hosts */
    defport = url->mode == MCPR_SENTINEL ? MCPR_DEFAULT_SENTINEL_PORT
                                         : MCPR_DEFAULT_PORT;
    if (auth == aend) {
        return fail(u, "the host is empty; the forms are " URL_FORMS);
    }
    while (auth < aend) {
        const char *comma = memchr(auth, ',', (apr_size_t)(aend - auth));
        const char *hend = comma ? comma : aend;
        mcpr_hostport_t *hp = apr_array_push(url->hosts);

        err = parse_hostport(u, auth, (apr_size_t)(hend - auth), defport, hp);
        if (err) {
            return err;
        }
        auth = comma ? comma + 1 : aend;
        if (comma && auth == aend) {
            return fail(u, "a host is empty (a ',' at the end)");
        }
    }
    if (url->mode == MCPR_SINGLE && url->hosts->nelts > 1) {
        return fail(u, apr_pstrcat(p, url->scheme, ":// takes one server; "
                                   "several are for redis+sentinel:// (the "
                                   "Sentinels) or redis+cluster:// (seed "
                                   "nodes)", NULL));
    }

    /* the path: [/master][/db] */
    if (path) {
        const char *pend = query ? query : path + strlen(path);
        const char *seg = path + 1, *db = NULL;
        apr_size_t dlen = 0;

        if (url->mode == MCPR_SENTINEL) {
            const char *slash = memchr(seg, '/', (apr_size_t)(pend - seg));
            const char *mend = slash ? slash : pend;

            if (mend > seg) {
                url->master = pct_decode(p, seg, (apr_size_t)(mend - seg));
                if (!url->master || !visible(url->master)) {
                    return fail(u, "the master name: visible characters, "
                                "no space (percent-encoded as needed)");
                }
            }
            if (slash) {
                db = slash + 1;
                dlen = (apr_size_t)(pend - db);
            }
        }
        else {
            db = seg;
            dlen = (apr_size_t)(pend - seg);
        }
        if (db && dlen) {
            apr_int64_t n;

            if (url->mode == MCPR_CLUSTER) {
                return fail(u, "a Redis Cluster has database 0 only: no "
                            "/DB in redis+cluster:// or rediss+cluster://");
            }
            if (!parse_int(db, dlen, 0, 2147483647, &n)) {
                return fail(u, apr_pstrcat(p, "the database", shown(u, db, dlen),
                                           " is a number (0-15 on a default "
                                           "Redis: its 'databases' setting)",
                                           NULL));
            }
            url->db = (int)n;
        }
    }
    if (url->mode == MCPR_SENTINEL && !url->master) {
        return fail(u, apr_pstrcat(p, url->scheme, "://[USER[:PASSWORD]@]"
                                   "HOST[:PORT][,HOST[:PORT]...]/MASTER[/DB]"
                                   ": the master's name (as in the "
                                   "Sentinels' 'sentinel monitor') is "
                                   "missing", NULL));
    }

    if (query) {
        err = parse_options(u, url, query + 1);
        if (err) {
            return err;
        }
    }
    *out = url;
    return NULL;
}

static const char *describe_host(apr_pool_t *p, const mcpr_hostport_t *hp)
{
    return apr_psprintf(p, strchr(hp->host, ':') ? "[%s]:%u" : "%s:%u",
                        hp->host, (unsigned)hp->port);
}

/* A user name or master name as it may go back into a URL. */
static const char *pct_encode(apr_pool_t *p, const char *s)
{
    apr_size_t n = strlen(s), i;
    char *out = apr_palloc(p, 3 * n + 1), *o = out;

    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (apr_isalnum(ch) || ch == '-' || ch == '_' || ch == '.'
            || ch == '~') {
            *o++ = (char)ch;
        }
        else {
            apr_snprintf(o, 4, "%%%02X", ch);
            o += 3;
        }
    }
    *o = '\0';
    return out;
}

const char *mcpr_url_describe(apr_pool_t *p, const mcpr_url_t *u)
{
    const mcpr_hostport_t *hp = (const mcpr_hostport_t *)u->hosts->elts;
    const char *s, *sep = "?";
    int i;

    s = apr_pstrcat(p, u->scheme, "://", NULL);
    if (u->user || u->password) {
        s = apr_pstrcat(p, s, u->user ? pct_encode(p, u->user) : "",
                        u->password ? ":***" : "", "@", NULL);
    }
    for (i = 0; i < u->hosts->nelts; i++) {
        s = apr_pstrcat(p, s, i ? "," : "", describe_host(p, &hp[i]), NULL);
    }
    if (u->master) {
        s = apr_pstrcat(p, s, "/", pct_encode(p, u->master), NULL);
    }
    if (u->db >= 0) {
        s = apr_psprintf(p, "%s/%d", s, u->db);
    }
    if (u->connect_timeout) {
        s = apr_psprintf(p, "%s%sconnect_timeout=%" APR_TIME_T_FMT "ms", s,
                         sep, apr_time_as_msec(u->connect_timeout));
        sep = "&";
    }
    if (u->pool_max) {
        s = apr_psprintf(p, "%s%spool_max=%d", s, sep, u->pool_max);
        sep = "&";
    }
    if (u->client_name) {
        s = apr_pstrcat(p, s, sep, "name=", pct_encode(p, u->client_name),
                        NULL);
        sep = "&";
    }
    if (u->sni) {
        s = apr_pstrcat(p, s, sep, "sni=", u->sni, NULL);
        sep = "&";
    }
    if (u->verify != MCPR_VERIFY_FULL) {
        s = apr_pstrcat(p, s, sep, "verify=",
                        u->verify == MCPR_VERIFY_CA ? "ca" : "none", NULL);
        sep = "&";
    }
    if (u->sentinel_user) {
        s = apr_pstrcat(p, s, sep, "sentinel_user=",
                        pct_encode(p, u->sentinel_user), NULL);
        sep = "&";
    }
    if (u->sentinel_password) {
        s = apr_pstrcat(p, s, sep, "sentinel_password=***", NULL);
    }
    return s;
}
