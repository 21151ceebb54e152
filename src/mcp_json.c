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

char *mcp_json_dump(apr_pool_t *p, const json_t *j, apr_size_t *len)
{
    /* Straight into pool memory: most answers fit the first guess, and
     * json_dumpb says how much a larger one needs. JSON_COMPACT never
     * emits a raw newline, so a dump fits one SSE data: line. */
    size_t size = 1024, n;
    char *buf = apr_palloc(p, size);

    n = json_dumpb(j, buf, size, JSON_COMPACT | JSON_ENCODE_ANY);
    if (n == 0) {
        return NULL;
    }
    if (n >= size) {
        size = n + 1;
        buf = apr_palloc(p, size);
        if (json_dumpb(j, buf, size, JSON_COMPACT | JSON_ENCODE_ANY) != n) {
            return NULL;
        }
    }
    buf[n] = '\0';
    if (len) {
        *len = n;
    }
    return buf;
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
