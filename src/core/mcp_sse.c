#include <string.h>
#include "apr_strings.h"
#include "mcp_sse.h"
#include "mcp_json.h"

static int is_response_to(json_t *m, const json_t *id)
{
    json_t *mid = json_object_get(m, "id");
    return json_is_object(m) && mid && !json_object_get(m, "method")
           && (json_object_get(m, "result") || json_object_get(m, "error"))
           && json_equal(mid, (json_t *)id);
}

json_t *mcp_sse_find_response(apr_pool_t *p, const char *text, apr_size_t len,
                              const json_t *id)
{
    json_t *j = mcp_json_parse(p, text, len);
    json_t *m;
    size_t i;

    if (is_response_to(j, id)) {
        return j;
    }
    json_array_foreach(j, i, m) {
        if (is_response_to(m, id)) {
            return m;
        }
    }
    return NULL;
}

struct mcp_sse_scanner_t {
    apr_pool_t *p;
    const json_t *id;
    apr_size_t max;
    char *line;             /* the line read so far */
    apr_size_t line_len, line_cap;
    char *data;             /* the event's data lines, each ending in LF */
    apr_size_t data_len, data_cap;
    int after_cr;           /* the last byte was CR: an LF now ends nothing */
    int first_line;         /* a BOM may start the stream */
};

mcp_sse_scanner_t *mcp_sse_scanner_create(apr_pool_t *p, const json_t *id,
                                          apr_size_t max)
{
    mcp_sse_scanner_t *s = apr_pcalloc(p, sizeof(*s));
    s->p = p;
    s->id = id;
    s->max = max;
    s->first_line = 1;
    return s;
}

/* Append n bytes to a buffer of at most max bytes, doubling it (in the
 * pool: a scanner lives for one answer, so at most 2 x max each). */
static int append(mcp_sse_scanner_t *s, char **buf, apr_size_t *len,
                  apr_size_t *cap, const char *bytes, apr_size_t n)
{
    if (*len + n > s->max) {
        return 0;
    }
    if (*len + n > *cap) {
        apr_size_t want = *cap ? *cap : 1024;
        char *bigger;
        while (want < *len + n) {
            want *= 2;
        }
        want = want > s->max ? s->max : want;
        bigger = apr_palloc(s->p, want);
        if (*len) {
            memcpy(bigger, *buf, *len);
        }
        *buf = bigger;
        *cap = want;
    }
    if (n) {    /* memcpy with a NULL *buf is undefined even for 0 bytes */
        memcpy(*buf + *len, bytes, n);
    }
    *len += n;
    return 1;
}

/* One line has ended: an empty one dispatches the event. */
static apr_status_t end_line(mcp_sse_scanner_t *s, json_t **msg)
{
    const char *line = s->line, *colon, *value;
    apr_size_t len = s->line_len, flen, vlen;

    s->line_len = 0;
    if (s->first_line) {
        s->first_line = 0;
        if (len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) {
            line += 3;
            len -= 3;
        }
    }
    if (len == 0) {
        if (s->data_len) {
            /* the data without its last LF */
            json_t *m = mcp_sse_find_response(s->p, s->data, s->data_len - 1,
                                              s->id);
            s->data_len = 0;
            if (m) {
                *msg = m;
                return APR_SUCCESS;
            }
        }
        return APR_INCOMPLETE;
    }
    colon = memchr(line, ':', len);
    flen = colon ? (apr_size_t)(colon - line) : len;
    if (flen != 4 || memcmp(line, "data", 4)) {
        return APR_INCOMPLETE;      /* a comment, event, id, retry, ... */
    }
    value = colon ? colon + 1 : line + len;
    vlen = (apr_size_t)(line + len - value);
    if (vlen && *value == ' ') {
        value++;
        vlen--;
    }
    if (!append(s, &s->data, &s->data_len, &s->data_cap, value, vlen)
        || !append(s, &s->data, &s->data_len, &s->data_cap, "\n", 1)) {
        return APR_ENOSPC;
    }
    return APR_INCOMPLETE;
}

apr_status_t mcp_sse_scan(mcp_sse_scanner_t *s, const char *data,
                          apr_size_t len, json_t **msg)
{
    const char *c = data, *end = data + len;
    apr_status_t rv;

    while (c < end) {
        const char *eol = c;

        if (s->after_cr) {
            s->after_cr = 0;
            if (*c == '\n') {
                c++;
                continue;
            }
        }
        while (eol < end && *eol != '\n' && *eol != '\r') {
            eol++;
        }
        if (!append(s, &s->line, &s->line_len, &s->line_cap, c,
                    (apr_size_t)(eol - c))) {
            return APR_ENOSPC;
        }
        if (eol == end) {
            break;
        }
        s->after_cr = (*eol == '\r');
        c = eol + 1;
        if ((rv = end_line(s, msg)) != APR_INCOMPLETE) {
            return rv;
        }
    }
    return APR_INCOMPLETE;
}
