/* SPDX-License-Identifier: ISC */
/*
 * The HTTP ceiling of this workload: a Kore module that takes the same
 * POSTs and answers a fixed body of reply size, with no crypto and no
 * XML. bench/run.sh measures it next to the real pipeline.
 *
 * With CEILING_SPIN_NS set it also burns that much CPU per request
 * before answering: the ceiling of a server whose handler costs as much
 * as the pipeline, so that what the kernel charges a slower server (the
 * client's wake-ups) is not counted as the framework's.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kore/kore.h>
#include <kore/http.h>

int	ceiling(struct http_request *);

static char	reply[580];
static long	spin_ns = -1;

static void
spin(void)
{
	struct timespec	t0, t;
	const char	*s;

	if (spin_ns == -1)
		spin_ns = (s = getenv("CEILING_SPIN_NS")) ? atol(s) : 0;
	if (spin_ns <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000L +
	    (t.tv_nsec - t0.tv_nsec) < spin_ns);
}

int
ceiling(struct http_request *req)
{
	if (reply[0] == '\0')
		memset(reply, 'x', sizeof(reply));
	if (req->http_body == NULL || req->content_length == 0) {
		http_response(req, 400, NULL, 0);
		return (KORE_RESULT_OK);
	}
	spin();
	http_response_header(req, "content-type",
	    "application/xml; charset=utf-8");
	http_response(req, 200, reply, sizeof(reply));

	return (KORE_RESULT_OK);
}
