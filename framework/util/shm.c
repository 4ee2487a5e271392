/* SPDX-License-Identifier: ISC */
/*
 * Shared memory for the workers (the retry table, the metrics).
 */

#include <sys/mman.h>

#include <pthread.h>
#include <unistd.h>

#include "wecom_shm.h"

/* A zeroed shared mapping of at least *size bytes; *size is rounded up
 * to whole pages. NULL on failure. */
void *
wecom_shm_map(size_t *size)
{
	void	*p;
	long	 page;

	if ((page = sysconf(_SC_PAGESIZE)) <= 0)
		page = 4096;
	*size = (*size + page - 1) & ~((size_t)page - 1);
	p = mmap(NULL, *size, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return (p == MAP_FAILED ? NULL : p);
}

int
wecom_shm_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t	attr;
	int			rc;

	if (pthread_mutexattr_init(&attr) != 0)
		return (-1);
	rc = -1;
	if (pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED) == 0 &&
	    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST) == 0 &&
	    pthread_mutex_init(m, &attr) == 0)
		rc = 0;
	pthread_mutexattr_destroy(&attr);

	return (rc);
}
