/* Tool registry for the llm-worker: OpenAI "tools" schemas and dispatch of tool calls by name. */
#ifndef LLM_TOOLS_H
#define LLM_TOOLS_H

#include <jansson.h>

/* The OpenAI "tools" array describing every registered tool. Returns a new reference the caller
 * json_decref()s, or NULL when out of memory. */
json_t *llm_tools_schema(void);

/* Run tool 'name' with the model's 'arguments_json' (the raw function.arguments string; NULL or ""
 * means {}). Always stores a malloc'd JSON object string in '*result_json_out' on return >= 0;
 * the caller free()s it. Returns 0 when the tool ran, 1 when the result is an {"error": "..."}
 * object for the model (unknown tool, arguments not JSON, missing or invalid arguments),
 * SH_EINVAL for NULL name/out, or SH_ENOMEM (then '*result_json_out' is NULL). */
int llm_tools_run(const char *name, const char *arguments_json, char **result_json_out);

#endif
