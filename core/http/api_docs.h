/* GET /api/docs: the REST API's description, docs/openapi.yaml, as
 * application/yaml. The text is compiled into chatd (cmake/EmbedText.cmake),
 * so a source build and an installed package serve the description of the
 * routes they answer, with no file to find and no read on the core loop.
 * docs/rest-api.md. */
#ifndef CHATD_API_DOCS_H
#define CHATD_API_DOCS_H

struct rest_call;

/* Answers and frees the call: 200 with the YAML, 500 when out of memory.
 * No credentials needed. */
void api_docs_rest(struct rest_call *c);

#endif
