/* SPDX-License-Identifier: ISC */
/*
 * Inside the outbox: the record (what one file holds, and its JSON),
 * the directory layout and the atomic file operations it relies on,
 * and the state of a drain. The functions shared between its files
 * carry wecom_outbox_ too: libwecom.a shares one namespace with Kore,
 * libc and every app.
 */

#ifndef WECOM_OUTBOX_PRIVATE_H
#define WECOM_OUTBOX_PRIVATE_H

#include <sys/queue.h>

#include <limits.h>

#include <jansson.h>

#include "wecom_outbox.h"

#define OUTBOX_VERSION		1
#define OUTBOX_RECORD_MAX	(4 * 1024 * 1024)
#define OUTBOX_BACKOFF_CAP_MS	(3600L * 1000)
#define OUTBOX_SYNC_EVERY	64	/* deliveries between fsyncs */
#define OUTBOX_INTERRUPT_MAX	3	/* sends cut short, then failed/ */
#define OUTBOX_DEST_FAILS	3	/* transient failures in a row: the
					   destination is left for this drain */

/* The state directories, in the order a message goes through them. */
#define OB_NEW		0	/* queued: due at record.next */
#define OB_SENDING	1	/* being sent: at most one, under the lock */
#define OB_DONE		2	/* delivered: key, times, msgid */
#define OB_FAILED	3	/* rejected or too old: record + error */
#define OB_NDIRS	4

struct outbox_dirs {
	char	root[PATH_MAX];			/* <state_dir>/outbox */
	char	sub[OB_NDIRS][PATH_MAX];
};

/* Why the last attempt failed: struct wecom_api_error, kept on disk. */
struct outbox_error {
	int		 code;			/* WECOM_API_* */
	long		 errcode;
	char		*errmsg;
	char		*hint;
	int64_t		 at;			/* ms since the epoch */
};

struct outbox_record {
	char			 key[WECOM_OUTBOX_KEY_MAX + 1];
	int64_t			 created;	/* ms since the epoch */
	int64_t			 next;		/* ms: not sent before */
	int64_t			 inflight;	/* ms: a send cut short */
	int			 interrupted;	/* sends cut short */
	int			 attempts;	/* sends tried */
	char			*app;		/* [app NAME], or */
	char			*robot;		/* [robot NAME], or */
	char			*aibot;		/* [aibot NAME], or */
	char			*forward;	/* a forward app's section */
	int			 chat_type;	/* aibot: 1 single, 2 group */
	char			*touser, *toparty, *totag;
	char			*chat;
	json_t			*msg;		/* {"msgtype": T, T: {...}} */
	char			*fallback;	/* markdown: the text */
	int			 safe;
	int			 id_trans;
	int			 long_content;
	char			*fb_user, *fb_party, *fb_tag;
	int			 dup_interval;	/* s, fixed when queued */
	struct outbox_error	 error;		/* code 0: none */
	int64_t			 failed_at;	/* failed/ only */
	char			 failed_why[32];
};

/*
 * A drain: the holder of the lock sending what is due. The clients of
 * its destinations live as long as it does.
 */
struct outbox_dest {
	char				*name;	/* "app NAME", "robot NAME" */
	struct wecom_client		*client;
	int				 fails;	/* transient, in a row */
	TAILQ_ENTRY(outbox_dest)	 list;
};

struct outbox_drain {
	const struct wecom_conf		*conf;
	struct outbox_dirs		 d;
	wecom_outbox_log_fn		 log;
	void				*arg;
	struct wecom_outbox_stats	*st;
	int64_t				 max_age_ms;
	long				 backoff_ms;
	int				 unsynced;	/* deliveries */
	int				 once;		/* a caller waits */
	TAILQ_HEAD(, outbox_dest)	 dests;
};

/* outbox_record.c: one record, its JSON, and the message inside it. */
void	wecom_outbox_record_free(struct outbox_record *);
char	*wecom_outbox_record_encode(const struct outbox_record *);
int	wecom_outbox_record_decode(struct outbox_record *, const char *,
	    size_t);
int	wecom_outbox_record_set_msg(struct outbox_record *,
	    const struct wecom_outmsg *);
struct wecom_outmsg	*wecom_outbox_record_msg(const struct outbox_record *);
void	wecom_outbox_record_describe(const struct outbox_record *, char *,
	    size_t);
void	wecom_outbox_record_requeue(struct outbox_record *, int64_t now);
void	wecom_outbox_record_set_error(struct outbox_record *,
	    const struct wecom_api_error *, int64_t now);
int	wecom_outbox_key_valid(const char *);
void	wecom_outbox_key_random(char out[WECOM_OUTBOX_KEY_MAX + 1]);
long	wecom_outbox_backoff_ms(long base_ms, int attempts, uint32_t rnd);

/* outbox_drain.c, for outbox_send.c and outbox_shared.c. */
void	wecom_outbox_drain_init(struct outbox_drain *,
	    const struct wecom_conf *, wecom_outbox_log_fn, void *,
	    struct wecom_outbox_stats *);
int	wecom_outbox_lock(const struct outbox_dirs *, long wait_ms, int *fd);
void	wecom_outbox_drain_key(const struct wecom_conf *,
	    const struct outbox_dirs *, const char *key, wecom_outbox_log_fn,
	    void *);

/* outbox_attempt.c, for outbox_drain.c: one record, and its outcome. */
void	wecom_outbox_attempt(struct outbox_drain *, const char *key);
void	wecom_outbox_recover(struct outbox_drain *);
void	wecom_outbox_dests_free(struct outbox_drain *);
void	wecom_outbox_sync_steps(struct outbox_drain *);
void	wecom_outbox_log(struct outbox_drain *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

/* outbox_deliver.c: how one record is sent, from files or the store. */
struct outbox_dest	*wecom_outbox_dest(struct outbox_drain *,
			    const struct outbox_record *,
			    struct wecom_api_error *);
int	wecom_outbox_send_record(struct outbox_drain *, struct outbox_dest *,
	    const struct outbox_record *, struct wecom_send_result *,
	    struct wecom_api_error *);
char	*wecom_outbox_done_entry(const struct outbox_record *,
	    const struct wecom_send_result *, int64_t);
int	wecom_outbox_transient(int);
void	wecom_outbox_fail_log(struct outbox_drain *,
	    const struct outbox_record *, const char *);

/* outbox_send.c: how a message fared, for outbox_shared.c too. */
int	wecom_outbox_outcome_done(json_t *, struct wecom_send_result *,
	    struct wecom_api_error *);
int	wecom_outbox_outcome_record(const struct outbox_record *, int,
	    struct wecom_api_error *);

/* outbox_shared.c: the outbox in the shared store ([global] store). */
struct wecom_store;
struct wecom_store	*wecom_outbox_store(const struct wecom_conf *);
long	wecom_outbox_lease_s(const struct wecom_conf *);
int	wecom_outbox_in_files(const struct wecom_conf *, const char *);
int	wecom_outbox_shared_put(const struct wecom_conf *,
	    const struct outbox_record *, const char *);
void	wecom_outbox_shared_drain(struct outbox_drain *, int64_t, int);
void	wecom_outbox_shared_count(const struct wecom_conf *, size_t *,
	    long *, size_t *);
int	wecom_outbox_shared_send(const struct wecom_conf *, const char *,
	    long, wecom_outbox_log_fn, void *, struct wecom_send_result *,
	    struct wecom_api_error *);
int	wecom_outbox_shared_keys(const struct wecom_conf *,
	    void (*)(void *, const char *), void *);
void	wecom_outbox_shared_list(const struct wecom_conf *, int,
	    wecom_outbox_entry_fn, void *);
int	wecom_outbox_shared_retry(const struct wecom_conf *, const char *,
	    int *);
int	wecom_outbox_shared_drop(const struct wecom_conf *, const char *);

/* outbox_fs.c: the directories and atomic file operations. */
int	wecom_outbox_dirs_init(struct outbox_dirs *, const char *state_dir,
	    int create);
int	wecom_outbox_write(const char *dir, const char *name,
	    const char *data, size_t len, int64_t mtime_ms, int flags);
int	wecom_outbox_read(const char *dir, const char *name, char **data,
	    size_t *len);
int	wecom_outbox_move(const char *from, const char *to, const char *name,
	    int flags);
int	wecom_outbox_remove(const char *dir, const char *name, int flags);
int	wecom_outbox_sync_dir(const char *dir);
int	wecom_outbox_exists(const char *dir, const char *name);
int	wecom_outbox_list(const char *dir, char ***names, size_t *n);
void	wecom_outbox_list_free(char **, size_t);
void	wecom_outbox_prune(const char *dir, int64_t records_before,
	    int64_t tmp_before);
int64_t	wecom_outbox_now_ms(void);

/* File results besides WECOM_API_OK and WECOM_API_ERR_IO. */
#define OUTBOX_EXISTS		1
#define OUTBOX_MISSING		2

/* wecom_outbox_write, _move, _remove flags. */
#define OUTBOX_EXCL		0x01	/* keep an existing file */
#define OUTBOX_LAZY		0x02	/* no fsync: the caller syncs later */

#endif
