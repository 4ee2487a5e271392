/* SPDX-License-Identifier: ISC */
/*
 * The schema as Markdown, for `wecom-send --conf-keys`. The README's
 * table of keys is this output word for word (tests/conf/conf_keys.t checks
 * it), so the documentation is the loader's own table and cannot fall
 * behind it.
 */

#include <stdio.h>
#include <string.h>

#include "wecom_conf_schema.h"

static const char *const	type_names[] = {
	[CONF_NUMBER] = "number",
	[CONF_YESNO] = "yes/no",
	[CONF_STRING] = "string",
	[CONF_SECRET] = "secret",
	[CONF_URL] = "URL",
	[CONF_URLPATH] = "URL path",
	[CONF_FILE] = "path",
	[CONF_NETS] = "networks",
	[CONF_NAME] = "name",
	[CONF_NAMES] = "names"
};

/* After the table: what holds for every key, and what is not in it. */
static const char *const	note[] = {
	"",
	"Any value may be `env:VAR`, read from the environment variable VAR,",
	"or `file:/path`, read from a file that must be mode 0600 (group or",
	"other access is refused); secrets are never logged. An unknown",
	"section or key stops start-up, naming the file and the line, but in",
	"an `[app NAME]` section: its other keys are its app's own, read with",
	"`wecom_app_conf(app, \"greeting\")` and described in the app's source.",
	NULL
};

static void	doc_row(FILE *, const struct conf_key *);
static void	doc_cell(FILE *, const char *, const char *);

int
wecom_conf_keys_markdown(FILE *fp)
{
	const struct conf_key	*k;
	size_t			 i;

	fputs("| section | key | type | default | range | env | meaning |\n"
	    "| --- | --- | --- | --- | --- | --- | --- |\n", fp);
	for (k = wecom_conf_keys; k->key != NULL; k++)
		doc_row(fp, k);
	for (i = 0; note[i] != NULL; i++)
		fprintf(fp, "%s\n", note[i]);

	return (ferror(fp) ? -1 : 0);
}

static void
doc_row(FILE *fp, const struct conf_key *k)
{
	const struct conf_sect	*t;
	const char		*range;
	char			 sect[64], buf[128];

	t = wecom_conf_sect_find(k->section);
	snprintf(sect, sizeof(sect), "[%s%s%s]", k->section,
	    t != NULL && t->name != NULL ? " " : "",
	    t != NULL && t->name != NULL ? t->name : "");
	if (k->type == CONF_NUMBER) {
		snprintf(buf, sizeof(buf), "%lld–%lld", k->min, k->max);
		range = buf;
	} else
		range = wecom_conf_key_form(k, buf, sizeof(buf));

	doc_cell(fp, "`", sect);
	doc_cell(fp, "`", k->key);
	doc_cell(fp, "", type_names[k->type]);
	if (k->def != NULL)
		doc_cell(fp, "`", k->def);
	else
		doc_cell(fp, "", k->absent != NULL ? k->absent : "");
	doc_cell(fp, "", range);
	doc_cell(fp, k->env != NULL ? "`" : "", k->env != NULL ? k->env : "");
	doc_cell(fp, "", k->meaning);
	fputs("|\n", fp);
}

/* "| text ", quoted by q (a backtick or nothing), its | escaped. */
static void
doc_cell(FILE *fp, const char *q, const char *text)
{
	size_t	n;

	fprintf(fp, "| %s", q);
	while (*text != '\0') {
		n = strcspn(text, "|");
		fwrite(text, 1, n, fp);
		text += n;
		if (*text == '|') {
			fputs("\\|", fp);
			text++;
		}
	}
	fprintf(fp, "%s ", q);
}
