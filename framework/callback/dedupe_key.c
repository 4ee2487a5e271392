/* SPDX-License-Identifier: ISC */
/*
 * The retry table's keys: a SHA-1 over what makes a callback itself —
 * its MsgId, or for an event every field that tells it from another —
 * so a retry, re-encrypted by WeCom, still hashes the same.
 */

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "wecom.h"
#include "wecom_xml.h"
#include "wecom_dedupe.h"

/* Fetched once (the table's maker hashes a key before the fork): an
 * implicit fetch per key is costly. */
static EVP_MD		*sha1;
static pthread_once_t	 sha1_once = PTHREAD_ONCE_INIT;

static void
key_fetch(void)
{
	sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
}

/*
 * Keys. Every field goes in with a presence byte and its length, so no
 * two different field lists hash the same bytes ("ab"+"c" vs "a"+"bc",
 * absent vs empty).
 */
struct keyctx {
	EVP_MD_CTX	*md;
	int		 ok;
	uint64_t	 fnv[2];	/* used when OpenSSL fails */
};

static void
key_bytes(struct keyctx *kc, const void *p, size_t len)
{
	const unsigned char	*b = p;
	size_t			 i, j;

	if (kc->ok && EVP_DigestUpdate(kc->md, p, len))
		return;
	/* Only while OpenSSL cannot hash: two byte-serial loops cost
	 * more than the SHA-1 itself. */
	kc->ok = 0;
	for (j = 0; j < 2; j++)
		for (i = 0; i < len; i++) {
			kc->fnv[j] ^= b[i];
			kc->fnv[j] *= 0x100000001b3ULL;
		}
}

static void
key_u64(struct keyctx *kc, uint64_t v)
{
	unsigned char	b[8];
	int		i;

	for (i = 0; i < 8; i++)
		b[i] = v >> (56 - 8 * i);
	key_bytes(kc, b, sizeof(b));
}

static void
key_str(struct keyctx *kc, const char *s)
{
	unsigned char	present;
	size_t		len;

	present = s != NULL;
	key_bytes(kc, &present, 1);
	if (s == NULL)
		return;
	len = strlen(s);
	key_u64(kc, len);
	key_bytes(kc, s, len);
}

static void
key_init(struct keyctx *kc)
{
	pthread_once(&sha1_once, key_fetch);
	memset(kc, 0, sizeof(*kc));
	kc->fnv[0] = 0xcbf29ce484222325ULL;
	kc->fnv[1] = 0x84222325cbf29ce4ULL;
	kc->ok = (kc->md = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestInit_ex(kc->md, sha1 != NULL ? sha1 : EVP_sha1(), NULL);
}

/* An event's fields, then every element of its document if at hand. */
static void
key_event(struct keyctx *kc, const struct wecom_msg *msg)
{
	const char	*path, *value;
	size_t		 i, n;

	key_str(kc, msg->to_user);
	key_str(kc, msg->from_user);
	key_u64(kc, (uint64_t)msg->create_time);
	key_u64(kc, (uint64_t)msg->agentid);
	key_str(kc, msg->msgtype);
	key_str(kc, msg->event);
	key_str(kc, msg->event_key);
	key_str(kc, msg->change_type);
	key_str(kc, msg->user_id);
	key_str(kc, msg->new_user_id);
	key_str(kc, msg->party_id);
	key_str(kc, msg->tag_id);
	key_str(kc, msg->job_id);
	key_str(kc, msg->job_type);
	key_str(kc, msg->external_user_id);
	key_str(kc, msg->chat_id);
	key_str(kc, msg->welcome_code);
	key_str(kc, msg->task_id);
	key_str(kc, msg->card_type);
	key_str(kc, msg->response_code);
	key_str(kc, msg->sp_no);
	key_str(kc, msg->sp_status);
	key_str(kc, msg->third_no);
	key_str(kc, msg->open_kf_id);
	key_str(kc, msg->kf_token);
	key_str(kc, msg->scan_type);
	key_str(kc, msg->scan_result);
	key_str(kc, msg->content);
	key_str(kc, msg->media_id);
	n = msg->xml != NULL ? wecom_xml_nfields(msg->xml) : 0;
	key_u64(kc, n);
	for (i = 0; i < n; i++) {
		wecom_xml_field(msg->xml, i, &path, &value);
		key_str(kc, path);
		key_str(kc, value);
	}
}

static void
key_final(struct keyctx *kc, unsigned char key[WECOM_DEDUPE_KEY_LEN])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen;
	size_t		i;

	if (kc->ok && EVP_DigestFinal_ex(kc->md, md, &mdlen) &&
	    mdlen >= WECOM_DEDUPE_KEY_LEN) {
		memcpy(key, md, WECOM_DEDUPE_KEY_LEN);
	} else {
		/* Out of memory in OpenSSL: a weaker hash of the bytes
		 * from then on still matches retries, never merges all. */
		for (i = 0; i < WECOM_DEDUPE_KEY_LEN; i++)
			key[i] = kc->fnv[i / 8 % 2] >> (8 * (i % 8));
	}
	EVP_MD_CTX_free(kc->md);
}

/*
 * A message is its MsgId. An event has none: its identity is its sender,
 * second, name and key, plus whatever tells apart two events of the
 * same second (ChangeType, UserID, TaskId and ResponseCode, JobId,
 * ExternalUserID, ChatId, approval numbers, the kf Token …). When the
 * parsed document is at hand every element goes in as well, so that a
 * field no one has listed yet still separates two events; a retry
 * carries the same plaintext, so it still matches.
 */
void
wecom_dedupe_key(const char *app, const struct wecom_msg *msg,
    unsigned char key[WECOM_DEDUPE_KEY_LEN])
{
	struct keyctx	kc;

	key_init(&kc);
	key_str(&kc, "wecom-dedupe-1");
	key_str(&kc, app);
	if (msg == NULL) {
		key_str(&kc, NULL);
	} else if (msg->msgid != NULL && msg->msgid[0] != '\0') {
		key_str(&kc, "msgid");
		key_str(&kc, msg->msgid);
	} else {
		key_str(&kc, "event");
		key_event(&kc, msg);
	}
	key_final(&kc, key);
}
