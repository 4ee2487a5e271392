/* SPDX-License-Identifier: ISC */
/*
 * One datagram with at most one descriptor riding along (SCM_RIGHTS):
 * how requests and answers cross the helper's sockets.
 */

#include <sys/socket.h>

#include <errno.h>
#include <string.h>

#include "wecom_cmd.h"

union cmd_cmsg {
	struct cmsghdr	hdr;
	char		buf[CMSG_SPACE(sizeof(int))];
};

static void
cmd_msghdr(struct msghdr *msg, struct iovec *iov, union cmd_cmsg *cm,
    void *buf, size_t len)
{
	memset(msg, 0, sizeof(*msg));
	iov->iov_base = buf;
	iov->iov_len = len;
	msg->msg_iov = iov;
	msg->msg_iovlen = 1;
	msg->msg_control = cm->buf;
	msg->msg_controllen = sizeof(cm->buf);
}

/* buf, and fd unless it is -1. Never blocks, never raises SIGPIPE. */
ssize_t
wecom_cmd_send(int sock, const void *buf, size_t len, int fd)
{
	union cmd_cmsg	 cm;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*c;

	cmd_msghdr(&msg, &iov, &cm, (void *)buf, len);
	if (fd == -1) {
		msg.msg_control = NULL;
		msg.msg_controllen = 0;
	} else {
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}

	return (sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL));
}

/*
 * One datagram into buf; *fd the descriptor that came with it (close-
 * on-exec), else -1. A datagram cut short is an error (EMSGSIZE).
 */
ssize_t
wecom_cmd_recv(int sock, void *buf, size_t len, int *fd)
{
	union cmd_cmsg	 cm;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*c;
	ssize_t		 n;

	*fd = -1;
	cmd_msghdr(&msg, &iov, &cm, buf, len);
	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) == -1 &&
	    errno == EINTR)
		;
	if (n > 0 && (c = CMSG_FIRSTHDR(&msg)) != NULL &&
	    c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(fd, CMSG_DATA(c), sizeof(int));
	if (n > 0 && msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		errno = EMSGSIZE;
		n = -1;
	}

	return (n);
}
