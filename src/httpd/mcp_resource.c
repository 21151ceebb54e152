/* STUB (h-glue replaces it): see mcp_resource.h. */
#include "mcp_resource.h"
#include "mcp_oauth.h"
#include "mcp_private.h"

const command_rec mcp_resource_cmds[] = {
    { NULL }
};
