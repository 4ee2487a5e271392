/* SPDX-License-Identifier: ISC */
/*
 * Private to wecom-admin: the command line and what the subcommands
 * share (wecom-admin.c), the secrets and the config file they write
 * (wecom-admin-keys.c), HTTP (wecom-admin-http.c); one file per
 * subcommand besides.
 */

#ifndef WECOM_ADMIN_H
#define WECOM_ADMIN_H

#include <stddef.h>
#include <stdio.h>

#include "wecom_config.h"

#define URL_DEFAULT	"http://127.0.0.1:8888"

/* -c before the subcommand (wecom-admin.c); a subcommand's own wins. */
extern const char	*conf_path;

/* An answer to one HTTP request. */
struct reply {
	long	 status;		/* 0: no answer */
	char	*body;			/* NUL-terminated */
	size_t	 len;
	char	 error[256];		/* why there was no answer */
};

/* A subcommand, as its usage errors and --help name it. */
struct cmd {
	const char	*name;		/* "check", "outbox retry" … */
	void		(*usage)(FILE *);
};

/* wecom-admin.c */
void	usage_error(const struct cmd *, const char *, ...)
	    __attribute__((noreturn, format(printf, 2, 3)));
void	bad_option(const struct cmd *, int, char **, int)
	    __attribute__((noreturn));
void	help(const struct cmd *) __attribute__((noreturn));
int	conf_load(struct wecom_conf *, const char *);
int	as_state_owner(const struct wecom_conf *);
int	valid_name(const char *);

/* The subcommands: argv[0] is the subcommand's name. */
int	cmd_new_app(int, char **);
int	cmd_new_aibot(int, char **);
int	cmd_check(int, char **);
int	cmd_callback(int, char **);
int	cmd_status(int, char **);
int	cmd_outbox(int, char **);

/* wecom-admin-keys.c: secrets and the config file. */
int	gen_token(char *, size_t);
int	gen_aeskey(char *, size_t);
struct undo;
struct undo	*undo_new(void);
int	make_dir(struct undo *, const char *);
int	write_secret(struct undo *, const char *, const char *, int);
int	append_conf(struct undo *, const char *, const char *);
void	undo_run(struct undo *);
void	undo_free(struct undo *);
int	secrets_dir(const char *, const char *, char *, size_t);

/* wecom-admin-http.c */
int	http_request(const char *, const char *, const char *, size_t,
	    struct reply *);
void	reply_free(struct reply *);

#endif
