#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include "apr_strings.h"
#include "mcp_json.h"
#include "mcp_state.h"

/* The format (mcp_state.h): "mcps1.<kid>.<payload>.<mac>". */
#define PREFIX      "mcps1."
#define PREFIX_LEN  6
#define KID_LEN     8                   /* hex of 4 bytes */
#define MAC_LEN     32                  /* HMAC-SHA256 */
#define MAC_B64_LEN 43                  /* base64url of 32 bytes, no "=" */
#define BIND_LEN    16                  /* bytes of SHA-256 kept */

typedef struct state_key_t {
    unsigned char key[MCP_STATE_KEY_MAX];
    apr_size_t len;
    char kid[KID_LEN + 1];
} state_key_t;

struct mcp_state_ring_t {
    int n;
    state_key_t keys[MCP_STATE_KEYS_MAX];
};

/* Key bytes do not outlive their pool in freed memory. */
typedef struct wipe_t {
    void *mem;
    apr_size_t len;
} wipe_t;

static apr_status_t wipe(void *data)
{
    wipe_t *w = data;
    OPENSSL_cleanse(w->mem, w->len);
    return APR_SUCCESS;
}

static void wipe_on_cleanup(apr_pool_t *p, void *mem, apr_size_t len)
{
    wipe_t *w = apr_palloc(p, sizeof(*w));
    w->mem = mem;
    w->len = len;
    apr_pool_cleanup_register(p, w, wipe, apr_pool_cleanup_null);
}

mcp_state_ring_t *mcp_state_ring_make(apr_pool_t *p)
{
    mcp_state_ring_t *ring = apr_pcalloc(p, sizeof(*ring));
    wipe_on_cleanup(p, ring, sizeof(*ring));
    return ring;
}

apr_status_t mcp_state_ring_add(mcp_state_ring_t *ring,
                                const unsigned char *key, apr_size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];
    state_key_t *k;
    int i;

    if (len < MCP_STATE_KEY_MIN || len > MCP_STATE_KEY_MAX) {
        return APR_EINVAL;
    }
    if (ring->n == MCP_STATE_KEYS_MAX) {
        return APR_ENOSPC;
    }
    k = &ring->keys[ring->n++];
    memcpy(k->key, key, len);
    k->len = len;
    SHA256(key, len, md);
    for (i = 0; i < KID_LEN / 2; i++) {
        k->kid[2 * i] = hex[md[i] >> 4];
        k->kid[2 * i + 1] = hex[md[i] & 15];
    }
    k->kid[KID_LEN] = '\0';
    return APR_SUCCESS;
}

int mcp_state_ring_count(const mcp_state_ring_t *ring)
{
    return ring ? ring->n : 0;
}

const char *mcp_state_ring_kid(const mcp_state_ring_t *ring)
{
    return ring && ring->n ? ring->keys[0].kid : "";
}

/* ------------------------------------------------------------------ */
/* base64, written here rather than taken from apr_base64: its decoder
 * skips what it does not know and never reports an error, while a key
 * file or a sealed state with a stray character must be refused (and the
 * core and its fuzzer link APR, not apr-util). */

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding, NUL-terminated, from p. */
static char *b64url_encode(apr_pool_t *p, const unsigned char *in,
                           apr_size_t n)
{
    char *out = apr_palloc(p, (n + 2) / 3 * 4 + 1), *o = out;
    apr_size_t i;

    for (i = 0; i + 2 < n; i += 3) {
        *o++ = b64url[in[i] >> 2];
        *o++ = b64url[(in[i] & 3) << 4 | in[i + 1] >> 4];
        *o++ = b64url[(in[i + 1] & 15) << 2 | in[i + 2] >> 6];
        *o++ = b64url[in[i + 2] & 63];
    }
    if (n - i == 1) {
        *o++ = b64url[in[i] >> 2];
        *o++ = b64url[(in[i] & 3) << 4];
    }
    else if (n - i == 2) {
        *o++ = b64url[in[i] >> 2];
        *o++ = b64url[(in[i] & 3) << 4 | in[i + 1] >> 4];
        *o++ = b64url[(in[i + 1] & 15) << 2];
    }
    *o = '\0';
    return out;
}

#define B64_URL 1                       /* "-" and "_" */
#define B64_STD 2                       /* "+" and "/" */
#define B64_PAD 4                       /* "=" padding allowed */

static int b64_digit(unsigned char c, int flags)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if ((flags & B64_URL) && c == '-') return 62;
    if ((flags & B64_URL) && c == '_') return 63;
    if ((flags & B64_STD) && c == '+') return 62;
    if ((flags & B64_STD) && c == '/') return 63;
    return -1;
}

/* Decode n bytes into out (room for n / 4 * 3 + 2 bytes): the length,
 * or -1 for a foreign character, a wrong length or misplaced padding. */
static long b64_decode(const char *s, apr_size_t n, int flags,
                       unsigned char *out)
{
    apr_size_t i, o = 0;
    unsigned int acc = 0;
    int bits = 0;

    if ((flags & B64_PAD) && n % 4 == 0 && n) {
        /* padding, when present, makes whole quanta */
        if (s[n - 1] == '=') {
            n--;
            if (s[n - 1] == '=') {
                n--;
            }
        }
    }
    if (n % 4 == 1) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        int d = b64_digit((unsigned char)s[i], flags);
        if (d < 0) {
            return -1;
        }
        acc = (acc << 6 | (unsigned int)d) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}

/* ------------------------------------------------------------------ */
/* The binding digest */

typedef struct buf_t {
    apr_pool_t *p;
    char *data;
    apr_size_t len, cap;
} buf_t;

static void buf_put(buf_t *b, const void *s, apr_size_t n)
{
    if (b->len + n > b->cap) {
        char *bigger;
        while (b->cap < b->len + n) {
            b->cap *= 2;
        }
        bigger = apr_palloc(b->p, b->cap);
        memcpy(bigger, b->data, b->len);
        b->data = bigger;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static int dump_to_buf(const char *s, size_t n, void *data)
{
    buf_put(data, s, n);
    return 0;
}

/* A field as 4-byte big-endian length and bytes; 0xFFFFFFFF for NULL, so
 * an absent field and an empty one differ. */
static void put_field(buf_t *b, const char *s, apr_size_t n)
{
    unsigned char l[4];
    apr_uint32_t v = s ? (apr_uint32_t)n : 0xFFFFFFFFu;
    l[0] = (unsigned char)(v >> 24);
    l[1] = (unsigned char)(v >> 16);
    l[2] = (unsigned char)(v >> 8);
    l[3] = (unsigned char)v;
    buf_put(b, l, 4);
    if (s) {
        buf_put(b, s, n);
    }
}

static void put_str(buf_t *b, const char *s)
{
    put_field(b, s, s ? strlen(s) : 0);
}

/* base64url of the first BIND_LEN bytes of SHA-256 over the bound
 * fields; NULL when the arguments cannot be serialized. */
static const char *bind_digest(apr_pool_t *p, const mcp_state_bind_t *bind)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    buf_t b, args;

    b.p = args.p = p;
    b.cap = 256;
    b.len = 0;
    b.data = apr_palloc(p, b.cap);
    put_str(&b, bind ? bind->principal : NULL);
    put_str(&b, bind ? bind->endpoint : NULL);
    put_str(&b, bind ? bind->method : NULL);
    put_str(&b, bind ? bind->name : NULL);
    if (bind && bind->arguments) {
        /* canonical: compact, keys sorted (jansson's own formatting of
         * numbers, the same on every node of one build) */
        args.cap = 256;
        args.len = 0;
        args.data = apr_palloc(p, args.cap);
        if (json_dump_callback(bind->arguments, dump_to_buf, &args,
                               JSON_COMPACT | JSON_SORT_KEYS
                               | JSON_ENCODE_ANY)) {
            return NULL;
        }
        /* a body is megabytes at most: the length fits 32 bits */
        put_field(&b, args.data, args.len);
    }
    else {
        put_field(&b, NULL, 0);
    }
    SHA256((const unsigned char *)b.data, b.len, md);
    return b64url_encode(p, md, BIND_LEN);
}

/* ------------------------------------------------------------------ */

/* base64url of HMAC-SHA256(key, n bytes at s), or NULL. */
static const char *mac_of(apr_pool_t *p, const state_key_t *k,
                          const char *s, apr_size_t n)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (!HMAC(EVP_sha256(), k->key, (int)k->len, (const unsigned char *)s,
              n, md, &mdlen) || mdlen != MAC_LEN) {
        return NULL;
    }
    return b64url_encode(p, md, mdlen);
}

const char *mcp_state_seal(apr_pool_t *p, const mcp_state_ring_t *ring,
                           const mcp_state_bind_t *bind, const char *state,
                           apr_time_t now, apr_interval_time_t ttl)
{
    const state_key_t *k;
    const char *digest, *signing, *mac, *sealed = NULL;
    char *payload;
    apr_size_t plen;
    json_t *j = NULL;

    if (!ring || !ring->n || !state) {
        goto leave;
    }
    k = &ring->keys[0];
    digest = bind_digest(p, bind);
    /* json_pack refuses a state that is not UTF-8 */
    j = digest ? json_pack("{s:I, s:s, s:s}", "exp",
                           (json_int_t)apr_time_sec(now + ttl), "b", digest,
                           "s", state) : NULL;
    payload = j ? mcp_json_dump(p, j, &plen) : NULL;
    if (!payload) {
        goto leave;
    }
    signing = apr_pstrcat(p, PREFIX, k->kid, ".",
                          b64url_encode(p, (unsigned char *)payload, plen),
                          NULL);
    mac = mac_of(p, k, signing, strlen(signing));
    if (!mac) {
        goto leave;
    }
    sealed = apr_pstrcat(p, signing, ".", mac, NULL);
    /* one that could not be opened is not handed out */
    if (strlen(sealed) > MCP_STATE_SEALED_MAX) {
        sealed = NULL;
    }
leave:
    json_decref(j);
    return sealed;
}

apr_status_t mcp_state_open(apr_pool_t *p, const mcp_state_ring_t *ring,
                            const mcp_state_bind_t *bind, const char *sealed,
                            apr_time_t now, const char **state,
                            const char **why)
{
    apr_status_t rv = APR_EINVAL;
    const char *kid, *payload, *mac, *dot, *digest;
    apr_size_t n, plen, i;
    unsigned char *raw;
    long rawlen;
    json_t *j, *exp, *b, *s;
    int k, found = 0, good = 0;

    *state = NULL;
    *why = "malformed";
    /* nothing is read past the bound */
    n = sealed ? strnlen(sealed, MCP_STATE_SEALED_MAX + 1) : 0;
    if (!n || n > MCP_STATE_SEALED_MAX || strncmp(sealed, PREFIX, PREFIX_LEN)) {
        goto leave;
    }
    kid = sealed + PREFIX_LEN;
    for (i = 0; i < KID_LEN; i++) {
        if (!kid[i] || !strchr("0123456789abcdef", kid[i])) {
            goto leave;
        }
    }
    if (kid[KID_LEN] != '.') {
        goto leave;
    }
    payload = kid + KID_LEN + 1;
    dot = strrchr(payload, '.');
    if (!dot || dot == payload) {
        goto leave;
    }
    plen = (apr_size_t)(dot - payload);
    mac = dot + 1;
    if (strlen(mac) != MAC_B64_LEN) {
        goto leave;
    }

    /* the MAC, in constant time, before a byte of the payload is read;
     * every key with this kid is tried (kids are 32 bits) */
    for (k = 0; ring && k < ring->n; k++) {
        const state_key_t *key = &ring->keys[k];
        const char *want;
        if (memcmp(key->kid, kid, KID_LEN)) {
            continue;
        }
        found = 1;
        want = mac_of(p, key, sealed, (apr_size_t)(dot - sealed));
        if (want && !CRYPTO_memcmp(want, mac, MAC_B64_LEN)) {
            good = 1;
            break;
        }
    }
    if (!found) {
        *why = "unknown key";
        goto leave;
    }
    if (!good) {
        *why = "bad MAC";
        goto leave;
    }

    /* signed by us: the payload is ours, read it all the same with care */
    raw = apr_palloc(p, plen / 4 * 3 + 3);
    rawlen = b64_decode(payload, plen, B64_URL, raw);
    j = rawlen > 0 ? mcp_json_parse(p, (const char *)raw, (apr_size_t)rawlen)
                   : NULL;
    exp = json_object_get(j, "exp");
    b = json_object_get(j, "b");
    s = json_object_get(j, "s");
    if (!json_is_integer(exp) || !json_is_string(b) || !json_is_string(s)) {
        goto leave;
    }
    if (json_integer_value(exp) < (json_int_t)apr_time_sec(now)) {
        *why = "expired";
        goto leave;
    }
    digest = bind_digest(p, bind);
    if (!digest || strlen(digest) != json_string_length(b)
        || CRYPTO_memcmp(digest, json_string_value(b), strlen(digest))) {
        *why = "bound to another request or user";
        goto leave;
    }
    *state = apr_pstrmemdup(p, json_string_value(s), json_string_length(s));
    *why = NULL;
    rv = APR_SUCCESS;
leave:
    return rv;
}

/* ------------------------------------------------------------------ */
/* Key files */

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

apr_status_t mcp_state_key_parse(apr_pool_t *p, const char *text,
                                 unsigned char **key, apr_size_t *len,
                                 const char **why)
{
    apr_status_t rv = APR_EINVAL;
    const char *s = text, *e, *line = NULL;
    apr_size_t n = 0, i;
    unsigned char *out = NULL;
    long got = -1;
    int hex = 1;

    *key = NULL;
    *len = 0;
    *why = NULL;
    /* the one non-blank line */
    while (s && *s) {
        e = s + strcspn(s, "\n");
        while (s < e && is_space(*s)) {
            s++;
        }
        i = (apr_size_t)(e - s);
        while (i && is_space(s[i - 1])) {
            i--;
        }
        if (i) {
            if (line) {
                *why = "the key file has more than one line: one key a file";
                goto leave;
            }
            line = s;
            n = i;
        }
        s = *e ? e + 1 : e;
    }
    if (!line) {
        *why = "the key file is empty";
        goto leave;
    }
    if (n > 4 * MCP_STATE_KEY_MAX) {
        *why = apr_psprintf(p, "the key is %" APR_SIZE_T_FMT " characters"
                            " long, more than any key of at most %d bytes"
                            " is written in", n, MCP_STATE_KEY_MAX);
        goto leave;
    }
    /* room for either reading (base64 gives 3 bytes for 4 characters) */
    out = apr_palloc(p, n / 4 * 3 + 3);
    wipe_on_cleanup(p, out, n / 4 * 3 + 3);
    /* hex first: every hex text is also base64 text */
    for (i = 0; i < n && hex; i++) {
        hex = hex_digit((unsigned char)line[i]) >= 0;
    }
    if (hex && n % 2 == 0) {
        for (i = 0; i < n; i += 2) {
            out[i / 2] = (unsigned char)(hex_digit((unsigned char)line[i]) << 4
                                         | hex_digit((unsigned char)line[i + 1]));
        }
        got = (long)(n / 2);
    }
    else {
        got = b64_decode(line, n, B64_URL | B64_STD | B64_PAD, out);
        if (got < 0) {
            *why = "the key is neither hex nor base64 (a character that is"
                   " neither, padding in the middle or a wrong length)";
            goto leave;
        }
    }
    if (got < MCP_STATE_KEY_MIN) {
        *why = apr_psprintf(p, "key is %ld bytes, at least %d are needed",
                            got, MCP_STATE_KEY_MIN);
        goto leave;
    }
    if (got > MCP_STATE_KEY_MAX) {
        *why = apr_psprintf(p, "key is %ld bytes, at most %d are allowed",
                            got, MCP_STATE_KEY_MAX);
        goto leave;
    }
    *key = out;
    *len = (apr_size_t)got;
    rv = APR_SUCCESS;
leave:
    return rv;
}
