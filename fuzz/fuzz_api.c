/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer: what the client makes of an API answer — the judgement
 * (done, fail, back off, new token) and the reading of send results and
 * media ids — on arbitrary bodies, as if WeCom (or a proxy) sent them.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wecom_client.h"
#include "client_private.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct client_req		req;
	struct wecom_api_error		err;
	struct wecom_send_result	res;
	char				*media_id = NULL;
	int				 rc;

	memset(&req, 0, sizeof(req));
	memset(&res, 0, sizeof(res));
	memset(&err, 0, sizeof(err));
	wecom_buf_add(&req.resp, data, len);
	if (req.resp.err)
		return (0);
	req.path = strdup("message/send");
	req.curl_rc = CURLE_OK;
	req.http_status = 200 + (len % 3 == 0 ? 0 : (len % 7) * 50);

	rc = wecom_client_req_finish(&req, &err);
	if (rc == REQ_DONE && req.json == NULL)
		abort();
	if (rc == REQ_DONE) {
		(void)wecom_client_result_take(&res, req.json);
		(void)wecom_client_media_id(req.json, &media_id, &err);
	} else if (req.json != NULL) {
		(void)wecom_client_result_invalid(&res, req.json);
	}
	if (rc != REQ_DONE && err.errmsg[0] == '\0' && err.code == 0)
		abort();

	free(media_id);
	wecom_send_result_free(&res);
	wecom_client_req_free(&req);

	return (0);
}
