/* SPDX-License-Identifier: ISC */
/*
 * The shared store: the outbox, drained by any server. (Being written.)
 */

#include "wecom_store.h"

/* Schema version (store_schema.c). */
const char *const wecom_store_schema_outbox =
	"SELECT 1";
