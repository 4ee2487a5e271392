/* SPDX-License-Identifier: ISC */
/*
 * The HTTP ceiling of this workload: a Kore module that takes the same
 * POSTs and answers a fixed body of reply size, with no crypto and no
 * XML. bench/run.sh measures it next to the real pipeline.
 */

#include <string.h>

#include <kore/kore.h>
#include <kore/http.h>

int	ceiling(struct http_request *);

static char	reply[580];

int
ceiling(struct http_request *req)
{
	if (reply[0] == '\0')
		memset(reply, 'x', sizeof(reply));
	if (req->http_body == NULL || req->content_length == 0) {
		http_response(req, 400, NULL, 0);
		return (KORE_RESULT_OK);
	}
	http_response_header(req, "content-type",
	    "application/xml; charset=utf-8");
	http_response(req, 200, reply, sizeof(reply));

	return (KORE_RESULT_OK);
}
