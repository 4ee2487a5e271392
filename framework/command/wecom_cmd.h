/* SPDX-License-Identifier: ISC */
/*
 * The command layer (include/wecom/wecom_command.h says what a user
 * sees). Three parts, three processes:
 *
 *   the parent declares, before any fork, which keys of which sections
 *	are commands: command_spec.c, read-only afterwards;
 *   the helper reads requests from its socket and runs each in a
 *	runner process of its own: command_helper.c, command_exec.c;
 *   a worker sends a request and waits for the answer: command_client.c.
 *
 * A request is one datagram, "section\0key\0", carrying the worker's
 * end of a fresh socket pair; the answer comes back on it, a struct
 * wecom_cmd_reply and the output's descriptor. A worker can name a
 * command; it can never send one.
 */

#ifndef WECOM_CMD_H
#define WECOM_CMD_H

#include <sys/queue.h>
#include <sys/types.h>

#include "wecom_command.h"
#include "wecom_config.h"

#define WECOM_CMD_OK			0
#define WECOM_CMD_ERROR			-1

#define WECOM_CMD_TIMEOUT_DEFAULT	10000		/* ms */
#define WECOM_CMD_OUTPUT_DEFAULT	(16 * 1024 * 1024)
#define WECOM_CMD_REQUEST_MAX		512
/* Runners at once; more are refused, not queued. */
#define WECOM_CMD_RUNNERS_MAX		8

struct wecom_cmd {
	char			*section;	/* "app monitor" */
	char			*key;		/* "capture" */
	char			**argv;		/* with "%s" still in it */
	int			 shell;		/* argv is sh -c LINE */
	int			 to_file;	/* some word holds "%s" */
	long			 timeout_ms;
	size_t			 output_max;
	const char		*dir;		/* where %s is made */
	TAILQ_ENTRY(wecom_cmd)	 list;
};

/* The answer, as it crosses the socket. */
struct wecom_cmd_reply {
	int	exited;
	int	exit_code;
	int	signal;
	int	timed_out;
	int	too_large;
	int	has_output;		/* a descriptor comes with it */
	char	err[WECOM_COMMAND_ERR_MAX];
};

/* command_spec.c: in the parent, before the workers and the helper. */
int	wecom_cmd_declare(const struct wecom_conf_section *, const char *key,
	    char *err, size_t errlen);
const struct wecom_cmd	*wecom_cmd_find(const char *section,
			    const char *key);
int	wecom_cmd_declared(void);

/* command_exec.c: one command, in a runner; fd: its output, or -1. */
void	wecom_cmd_exec(const struct wecom_cmd *, struct wecom_cmd_reply *,
	    int *fd);

/* command_helper.c: serve requests on fd until killed. */
void	wecom_cmd_serve(int fd) __attribute__((noreturn));

/* command_fd.c: a datagram and a descriptor. */
ssize_t	wecom_cmd_send(int sock, const void *, size_t, int fd);
ssize_t	wecom_cmd_recv(int sock, void *, size_t, int *fd);

/* command_client.c: in a worker. */
void	wecom_cmd_client_init(int fd);
int	wecom_cmd_request(const char *section, const char *key,
	    struct wecom_command_result *);

#endif
