/* SPDX-License-Identifier: ISC */
/*
 * Private: memory the Kore workers share — an anonymous shared mapping
 * made in the parent before the fork, and a process-shared robust mutex
 * in it (a worker killed while holding it must not wedge the others).
 */

#ifndef WECOM_SHM_H
#define WECOM_SHM_H

#include <pthread.h>
#include <stddef.h>

void	*wecom_shm_map(size_t *size);
int	 wecom_shm_mutex_init(pthread_mutex_t *);

#endif
