/* SPDX-License-Identifier: ISC */
/*
 * The shared store: leases: who holds a bot's long connection. (Being written.)
 */

#include "wecom_store.h"

/* Schema version (store_schema.c). */
const char *const wecom_store_schema_lease =
	"SELECT 1";
