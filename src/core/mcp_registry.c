#include <stdlib.h>
#include <string.h>
#include "apr_strings.h"
#include "apr_lib.h"
#include "mcp_registry.h"
#include "mcp_json.h"

mcp_registry_t *mcp_registry_create(apr_pool_t *p, const char *name,
                                    const char *version)
{
    mcp_registry_t *reg = apr_pcalloc(p, sizeof(*reg));
    reg->pool = p;
    reg->server_name = name;
    reg->server_version = version;
    reg->tools = apr_array_make(p, 8, sizeof(const mcp_tool_t *));
    reg->resources = apr_array_make(p, 8, sizeof(const mcp_resource_t *));
    reg->templates = apr_array_make(p, 4, sizeof(const mcp_resource_t *));
    reg->prompts = apr_array_make(p, 4, sizeof(const mcp_prompt_t *));
    reg->tool_by_name = apr_hash_make(p);
    reg->prompt_by_name = apr_hash_make(p);
    reg->resource_by_uri = apr_hash_make(p);
    reg->schema_by_tool = apr_hash_make(p);
    return reg;
}

static int valid_tool_name(const char *n)
{
    apr_size_t len = 0;
    for (; *n; n++, len++) {
        if (!apr_isalnum(*n) && *n != '_' && *n != '-' && *n != '.') {
            return 0;
        }
    }
    return len > 0 && len <= 128;
}

const char *mcp_registry_add_tool(mcp_registry_t *reg, const mcp_tool_t *t)
{
    json_t *schema;

    if (!t->name || !valid_tool_name(t->name) || !t->call) {
        return apr_psprintf(reg->pool, "tool '%s': a name of 1-128 characters "
                            "[A-Za-z0-9_.-] and a callback are required",
                            t->name ? t->name : "(null)");
    }
    if (apr_hash_get(reg->tool_by_name, t->name, APR_HASH_KEY_STRING)) {
        return apr_psprintf(reg->pool, "tool '%s' is registered twice", t->name);
    }
    schema = mcp_json_load(reg->pool, t->input_schema ? t->input_schema
                           : "{\"type\":\"object\"}",
                           t->input_schema ? strlen(t->input_schema) : 17);
    if (!json_is_object(schema)) {
        return apr_psprintf(reg->pool, "tool '%s': input_schema is not a JSON "
                            "object", t->name);
    }
    if (t->output_schema) {
        json_t *out = mcp_json_load(reg->pool, t->output_schema,
                                    strlen(t->output_schema));
        if (!json_is_object(out)) {
            return apr_psprintf(reg->pool, "tool '%s': output_schema is not a "
                                "JSON object", t->name);
        }
    }
    apr_hash_set(reg->tool_by_name, t->name, APR_HASH_KEY_STRING, t);
    apr_hash_set(reg->schema_by_tool, t->name, APR_HASH_KEY_STRING, schema);
    *(const mcp_tool_t **)apr_array_push(reg->tools) = t;
    return NULL;
}

const char *mcp_registry_add_resource(mcp_registry_t *reg,
                                      const mcp_resource_t *res)
{
    if ((!res->uri == !res->uri_template) || !res->name || !res->read) {
        return apr_psprintf(reg->pool, "resource '%s': exactly one of uri and "
                            "uri_template, a name and a read callback are "
                            "required", res->uri ? res->uri
                            : (res->uri_template ? res->uri_template : "(null)"));
    }
    if (res->uri) {
        if (apr_hash_get(reg->resource_by_uri, res->uri, APR_HASH_KEY_STRING)) {
            return apr_psprintf(reg->pool, "resource '%s' is registered twice",
                                res->uri);
        }
        apr_hash_set(reg->resource_by_uri, res->uri, APR_HASH_KEY_STRING, res);
        *(const mcp_resource_t **)apr_array_push(reg->resources) = res;
    }
    else {
        *(const mcp_resource_t **)apr_array_push(reg->templates) = res;
        if (res->complete) {
            reg->has_completions = 1;
        }
    }
    return NULL;
}

const char *mcp_registry_add_prompt(mcp_registry_t *reg, const mcp_prompt_t *pr)
{
    if (!pr->name || !*pr->name || !pr->get) {
        return apr_psprintf(reg->pool, "prompt '%s': a name and a get callback "
                            "are required", pr->name ? pr->name : "(null)");
    }
    if (apr_hash_get(reg->prompt_by_name, pr->name, APR_HASH_KEY_STRING)) {
        return apr_psprintf(reg->pool, "prompt '%s' is registered twice",
                            pr->name);
    }
    apr_hash_set(reg->prompt_by_name, pr->name, APR_HASH_KEY_STRING, pr);
    *(const mcp_prompt_t **)apr_array_push(reg->prompts) = pr;
    if (pr->complete) {
        reg->has_completions = 1;
    }
    return NULL;
}

static int cmp_tool(const void *a, const void *b)
{
    return strcmp((*(const mcp_tool_t *const *)a)->name,
                  (*(const mcp_tool_t *const *)b)->name);
}

static int cmp_prompt(const void *a, const void *b)
{
    return strcmp((*(const mcp_prompt_t *const *)a)->name,
                  (*(const mcp_prompt_t *const *)b)->name);
}

static int cmp_resource(const void *a, const void *b)
{
    const mcp_resource_t *x = *(const mcp_resource_t *const *)a;
    const mcp_resource_t *y = *(const mcp_resource_t *const *)b;
    return strcmp(x->uri ? x->uri : x->uri_template,
                  y->uri ? y->uri : y->uri_template);
}

static void set_opt(json_t *o, const char *name, const char *value)
{
    if (value) {
        json_object_set_new(o, name, json_string(value));
    }
}

static json_t *tool_json(const mcp_registry_t *reg, const void *item)
{
    const mcp_tool_t *t = item;
    json_t *o = json_object();

    json_object_set_new(o, "name", json_string(t->name));
    set_opt(o, "title", t->title);
    set_opt(o, "description", t->description);
    json_object_set(o, "inputSchema", apr_hash_get(reg->schema_by_tool, t->name,
                                                   APR_HASH_KEY_STRING));
    if (t->output_schema) {
        json_object_set_new(o, "outputSchema",
                            json_loads(t->output_schema, 0, NULL));
    }
    return o;
}

/* A concrete resource or a template (add_resource made sure it is one). */
static json_t *resource_json(const mcp_registry_t *reg, const void *item)
{
    const mcp_resource_t *r = item;
    json_t *o = r->uri ? json_pack("{s:s, s:s}", "uri", r->uri, "name", r->name)
                       : json_pack("{s:s, s:s}", "uriTemplate", r->uri_template,
                                   "name", r->name);

    set_opt(o, "title", r->title);
    set_opt(o, "description", r->description);
    set_opt(o, "mimeType", r->mime_type);
    return o;
}

static json_t *prompt_json(const mcp_registry_t *reg, const void *item)
{
    const mcp_prompt_t *pr = item;
    json_t *o = json_pack("{s:s}", "name", pr->name);

    set_opt(o, "title", pr->title);
    set_opt(o, "description", pr->description);
    if (pr->args && pr->args[0].name) {
        const mcp_prompt_arg_t *a;
        json_t *args = json_array();
        for (a = pr->args; a->name; a++) {
            json_t *ao = json_pack("{s:s, s:b}", "name", a->name,
                                   "required", a->required);
            set_opt(ao, "description", a->description);
            json_array_append_new(args, ao);
        }
        json_object_set_new(o, "arguments", args);
    }
    return o;
}

/* One list method's result: the entries of `items` (pointers), sorted by
 * cmp, each as to_json makes it, under `key`. */
typedef struct list_spec_t {
    apr_array_header_t *items;
    int (*cmp)(const void *, const void *);
    const char *key;
    json_t *(*to_json)(const mcp_registry_t *reg, const void *item);
    json_t **result;
} list_spec_t;

static void list_build(mcp_registry_t *reg, const list_spec_t *l)
{
    json_t *arr = json_array();
    int i;

    qsort(l->items->elts, l->items->nelts, sizeof(void *), l->cmp);
    for (i = 0; i < l->items->nelts; i++) {
        json_array_append_new(arr, l->to_json(reg, APR_ARRAY_IDX(l->items, i,
                                                                 const void *)));
    }
    *l->result = mcp_json_pool_own(reg->pool, json_pack("{s:o}", l->key, arr));
}

void mcp_registry_seal(mcp_registry_t *reg)
{
    const list_spec_t lists[] = {
        { reg->tools, cmp_tool, "tools", tool_json, &reg->tools_list },
        { reg->resources, cmp_resource, "resources", resource_json,
          &reg->resources_list },
        { reg->templates, cmp_resource, "resourceTemplates", resource_json,
          &reg->templates_list },
        { reg->prompts, cmp_prompt, "prompts", prompt_json, &reg->prompts_list },
    };
    apr_size_t i;

    for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        list_build(reg, &lists[i]);
    }
}

json_t *mcp_registry_template_match(const char *tpl, const char *uri)
{
    json_t *vars = json_object();
    const char *t = tpl, *u = uri;
    int matched = 0;

    while (*t) {
        if (*t == '{') {
            const char *end = strchr(t, '}');
            const char *stop;
            char *name;
            if (!end) {
                goto leave;
            }
            name = strndup(t + 1, (size_t)(end - t - 1));
            t = end + 1;
            /* a variable runs to the next literal character (or '/') */
            stop = u;
            while (*stop && *stop != '/' && (!*t || *stop != *t)) {
                stop++;
            }
            if (stop == u) {
                free(name);
                goto leave;
            }
            json_object_set_new(vars, name, json_stringn(u, (size_t)(stop - u)));
            free(name);
            u = stop;
        }
        else if (*t++ != *u++) {
            goto leave;
        }
    }
    matched = !*u;
leave:
    if (!matched) {
        json_decref(vars);
        vars = NULL;
    }
    return vars;
}
