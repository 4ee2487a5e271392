/* SPDX-License-Identifier: ISC */
/*
 * What new-app and new-aibot tell the operator: their usage, and once
 * the section is in, what to paste into WeCom's admin console and what
 * comes next, in English and in Chinese. The Token and EncodingAESKey
 * drawn for the section are printed because the console must get
 * them; a Secret read from a file never is.
 */

#include <stdio.h>
#include <string.h>

#include "wecom-admin.h"
#include "wecom-admin-new.h"

static void	usage_app(FILE *);
static void	usage_aibot(FILE *);
static void	console_url(const struct newopts *);
static const char	*console_place(const struct newopts *);
static void	keyed_en(const struct newopts *);
static void	keyed_zh(const struct newopts *);
static const char	*conf_arg(const struct newopts *);

const struct cmd	new_app_cmd = { "new-app", usage_app };
const struct cmd	new_aibot_cmd = { "new-aibot", usage_aibot };

static void
usage_app(FILE *fp)
{
	fprintf(fp,
"usage: wecom-admin new-app NAME --agentid N [--corpid ID] [--path P]\n"
"           [--secret-file F] [--url URL] [--handler CODE] [--secrets-dir D]\n"
"           [--force] [-c CONF]\n"
"\n"
"Adds [app NAME] to the config: a new Token (32 letters and digits) and\n"
"EncodingAESKey (43) in NAME.token and NAME.aeskey (0600, in D), the\n"
"section pointing at them with file:, kept only if the config still loads.\n"
"Prints the URL, Token and EncodingAESKey to paste into the admin console.\n"
"\n"
"  --agentid N        the app's AgentId (its page in the admin console)\n"
"  --corpid ID        the CorpID; default that of the first [app]\n"
"  --path P           the callback path; default /wecom/NAME\n"
"  --secret-file F    the app's Secret is in F (0600): secret = file:F\n"
"  --url URL          https://your.domain, to print the whole callback URL\n"
"  --handler CODE     the WECOM_APP() code that serves it; default echo\n"
"  --secrets-dir D    default secrets/ beside the config (made 0700)\n"
"  --force            replace NAME.token and NAME.aeskey if they exist\n"
"  -c, --config CONF  see wecom-admin --help\n"
"\n"
"Exit: 0 added; 64 usage; 66 no --secret-file; 73 the section, the path\n"
"or a key file exists; 74 cannot write; 78 the config does not load\n"
"(before, or with the section: then it is put back as it was).\n");
}

static void
usage_aibot(FILE *fp)
{
	fprintf(fp,
"usage: wecom-admin new-aibot NAME [--mode websocket] [--bot-id ID]\n"
"           [--secret-file F] [--handler CODE] [--secrets-dir D] [-c CONF]\n"
"       wecom-admin new-aibot NAME --mode callback [--path P] [--url URL]\n"
"           [--handler CODE] [--secrets-dir D] [--force] [-c CONF]\n"
"\n"
"Adds [aibot NAME] to the config, kept only if the config still loads.\n"
"websocket (the default): the bot's BotID and long-connection Secret,\n"
"  from the admin console. The Secret is read from F, default NAME.secret\n"
"  in D: missing, it is made empty (0600) for you to paste the Secret\n"
"  into, and the command says what is missing and exits 75; run it again\n"
"  once the Secret is there and --bot-id is given.\n"
"callback: as new-app, a new Token and EncodingAESKey in 0600 files, and\n"
"  the URL, Token and EncodingAESKey to paste into the console printed.\n"
"\n"
"  --mode websocket|callback   default websocket\n"
"  --bot-id ID        the BotID (websocket)\n"
"  --secret-file F    the Secret's file (websocket)\n"
"  --path P           callback path; default /wecom/NAME\n"
"  --url URL          https://your.domain, to print the whole callback URL\n"
"  --handler CODE     the WECOM_APP() code that serves it; default echo\n"
"  --secrets-dir D    default secrets/ beside the config (made 0700)\n"
"  --force            callback: replace existing NAME.token, NAME.aeskey\n"
"  -c, --config CONF  see wecom-admin --help\n"
"\n"
"Exit: 0 added; 64 usage; 66 no --secret-file; 73 exists; 74 cannot\n"
"write; 75 BotID or Secret still to get; 78 the config does not load.\n");
}

/* "-c CONF " when the config is not the one found by default. */
static const char *
conf_arg(const struct newopts *o)
{
	static char	buf[4200];

	if (strcmp(o->conf, wecom_conf_path_tool()) == 0)
		return ("");
	snprintf(buf, sizeof(buf), "-c %s ", o->conf);
	return (buf);
}

static void
console_url(const struct newopts *o)
{
	size_t	len;

	if (o->url == NULL) {
		printf("  URL:            https://YOUR.DOMAIN%s\n", o->upath);
		return;
	}
	len = strlen(o->url);
	while (len > 0 && o->url[len - 1] == '/')
		len--;
	printf("  URL:            %.*s%s\n", (int)len, o->url, o->upath);
}

/* Where the console takes a section's callback settings. */
static const char *
console_place(const struct newopts *o)
{
	return (o->bot ? "应用管理 → 智能机器人 → your bot → API 模式 → 回调" :
	    "应用管理 → your app → 接收消息 → 设置API接收");
}

static void
keyed_en(const struct newopts *o)
{
	printf("Next steps:\n"
	    "  1. Restart the server (systemctl restart wecom): it serves\n"
	    "     %s from then on.\n"
	    "  2. Paste the three values above into the console and save:\n"
	    "     WeCom checks the URL at once, so the server must run with\n"
	    "     these keys first.\n"
	    "  3. Try it without WeCom:\n"
	    "     wecom-admin %scallback %s \"hello\"\n", o->upath, conf_arg(o),
	    o->name);
	if (strcmp(o->handler, "echo") == 0)
		printf("  4. handler = echo, the demo, answers what it "
		    "gets: set handler\n     to your WECOM_APP() name once "
		    "your code is in the module.\n");
	else
		printf("  4. handler = %s serves it.\n", o->handler);
	if (!o->bot && o->secret_file != NULL)
		printf("  5. wecom-admin %scheck gets the app's token with its "
		    "Secret.\n", conf_arg(o));
	else if (!o->bot)
		printf("  5. To send messages too: put the app's Secret "
		    "(on its page) in a\n     0600 file, add \"secret = "
		    "file:PATH\" to the section, then run\n     wecom-admin "
		    "%scheck.\n", conf_arg(o));
}

static void
keyed_zh(const struct newopts *o)
{
	printf("\n下一步：\n"
	    "  1. 重启服务（systemctl restart wecom），之后即服务 %s。\n"
	    "  2. 在管理后台 %s\n"
	    "     填入上面的 URL、Token 和 EncodingAESKey 并保存。企业微信\n"
	    "     会立即校验 URL，所以服务须已用这组密钥运行。\n"
	    "  3. 不经企业微信自测：\n"
	    "     wecom-admin %scallback %s \"你好\"\n"
	    "  4. handler = %s；代码编入模块后改为你的 WECOM_APP() 名称。\n",
	    o->upath, console_place(o), conf_arg(o), o->name, o->handler);
	if (!o->bot && o->secret_file == NULL)
		printf("  5. 如需发送消息：把应用的 Secret 存入权限 0600 "
		    "的文件，\n     在该段加入 secret = file:路径，然后运行\n"
		    "     wecom-admin %scheck。\n", conf_arg(o));
}

/* An app or a callback bot: the three values, and what then. */
void
guide_keyed(const struct newopts *o)
{
	printf("[%s %s] added to %s: the config loads.\n"
	    "Keys in %s\n     and %s (0600).\n\n"
	    "Paste into the WeCom admin console,\n%s:\n",
	    o->bot ? "aibot" : "app", o->name, o->conf, o->token_path,
	    o->aeskey_path, console_place(o));
	console_url(o);
	printf("  Token:          %s\n  EncodingAESKey: %s\n"
	    "(Both are secrets, shown this once for the console; the files "
	    "keep them.)\n\n", o->token, o->aeskey);
	keyed_en(o);
	keyed_zh(o);
}

/* A bot on the long connection, added. */
void
guide_ws(const struct newopts *o)
{
	printf("[aibot %s] added to %s (mode = websocket): the config loads.\n"
	    "Its Secret stays in %s; it is not shown.\n\n"
	    "Next steps:\n"
	    "  1. Restart the server (systemctl restart wecom): it connects\n"
	    "     out to WeCom, and its log says \"aibot %s: connected\".\n"
	    "  2. wecom-admin %sstatus shows the connection; then talk to\n"
	    "     the bot in WeCom.\n"
	    "  3. handler = %s serves it.\n"
	    "\n下一步：\n"
	    "  1. 重启服务（systemctl restart wecom）：服务主动连接企业微信，\n"
	    "     日志显示 \"aibot %s: connected\"。\n"
	    "  2. wecom-admin %sstatus 显示连接状态；然后在企业微信中与\n"
	    "     机器人对话。\n"
	    "  3. handler = %s。\n", o->name, o->conf, o->secret_path,
	    o->name, conf_arg(o), o->handler, o->name, conf_arg(o),
	    o->handler);
}

/* What the console must give first, and where it goes. */
void
guide_ws_pending(const struct newopts *o, int state)
{
	printf("[aibot %s] (mode = websocket) needs the bot's BotID and "
	    "Secret:\nnothing added yet. The WeCom admin console shows both:\n"
	    "应用管理 → 智能机器人 → 创建机器人 (or your bot) → API 模式 → "
	    "长连接.\n", o->name);
	if (o->bot_id == NULL)
		printf("  BotID:  give it as --bot-id BOTID\n");
	if (state != SECRET_FILLED)
		printf("  Secret: paste it into\n          %s\n          (%s; "
		    "never on the command line,\n          where ps would "
		    "show it)\n", o->secret_path, o->made_secret ?
		    "made empty and 0600 just now" : "empty now");
	printf("Then run again:\n  wecom-admin %snew-aibot %s --bot-id "
	    "%s%s%s%s%s%s%s\n"
	    "\n在管理后台 应用管理 → 智能机器人 → 创建机器人 → API 模式 → "
	    "长连接\n中可看到 BotID 和 Secret。BotID 用 --bot-id 给出；"
	    "Secret 粘贴到\n"
	    "%s\n（不要写在命令行上），然后再次运行上面的命令。\n",
	    conf_arg(o), o->name, o->bot_id ? o->bot_id : "BOTID",
	    o->secret_file ? " --secret-file " : "",
	    o->secret_file ? o->secret_file : "",
	    o->dir ? " --secrets-dir " : "", o->dir ? o->dir : "",
	    strcmp(o->handler, "echo") ? " --handler " : "",
	    strcmp(o->handler, "echo") ? o->handler : "", o->secret_path);
	fprintf(stderr, "wecom-admin: new-aibot: %s still to get; nothing "
	    "added\n", o->bot_id == NULL && state != SECRET_FILLED ?
	    "the BotID and the Secret" : o->bot_id == NULL ? "the BotID" :
	    "the Secret");
}
