/* SPDX-License-Identifier: ISC */
/*
 * The shared store: the retry table: a callback's handlers run once across servers. (Being written.)
 */

#include "wecom_store.h"

/* Schema version (store_schema.c). */
const char *const wecom_store_schema_retry =
	"SELECT 1";
