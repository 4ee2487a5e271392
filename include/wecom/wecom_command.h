/* SPDX-License-Identifier: ISC */
/*
 * Commands: the programs an app runs (a camera's capture, a status
 * script), named by a key of the app's section that holds the command
 * line. The workers never run them: a small helper process, started
 * by the server before the workers are sandboxed and chrooted, does,
 * as the workers' user and with that user's groups (video, say), and
 * only the command lines the config holds. docs/commands.md.
 *
 *	[app monitor]
 *	capture            = libcamera-still -n -t 1 -o %s
 *	capture_timeout_ms = 10000	# then its process group is killed
 *	capture_output_max = 16M	# a larger output fails the run
 *	capture_shell      = no		# yes: /bin/sh -c the line
 *	capture_dir        = /tmp	# where %s is made (its own dir)
 *
 * The line is split into words as sh would split it (quotes and
 * backslashes; no variables, globs, pipes or redirections: that is
 * what capture_shell = yes is for) and run with execvp. "%s" is a
 * fresh file the command writes; without one, its stdout is the
 * output.
 */

#ifndef WECOM_COMMAND_H
#define WECOM_COMMAND_H

#include <stddef.h>

#define WECOM_COMMAND_ERR_MAX	512

/* How a command ended, and what it made. */
struct wecom_command_result {
	int		 exited;	/* 1: it exited, with exit_code */
	int		 exit_code;
	int		 signal;	/* it was killed by this signal */
	int		 timed_out;	/* killed after its timeout_ms */
	int		 too_large;	/* its output passed output_max */
	/* Why it failed, for a person: "exit status 3: no camera". */
	char		 err[WECOM_COMMAND_ERR_MAX];
	unsigned char	*out;		/* the %s file, else stdout */
	size_t		 out_len;
};

void	wecom_command_result_free(struct wecom_command_result *);

#endif
