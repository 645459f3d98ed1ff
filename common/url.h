/* http(s) URLs through libcurl's URL API, with the one rule of ours curl lacks: the userinfo
 * ends at the authority's LAST '@' (a password may hold '@'), while curl ends it at the first
 * and then refuses the rest as a host. Pure; any thread. */
#ifndef IWR_URL_H
#define IWR_URL_H

#include <curl/curl.h>

/* 'url' with every '@' of its authority before the last one written "%40": the text curl
 * reads the way we do. Unchanged when it has at most one. Caller frees. */
char *url_for_curl(const char *url);
/* Parse 'url' (as url_for_curl gives it to curl) into *out; caller frees with
 * curl_url_cleanup, also on failure. CURLUE_OK or curl's code. */
CURLUcode url_parse(const char *url, CURLU **out);

/* 'url' for messages: without any user:password@ (curl's display of it, a trailing '/' as
 * 'url' has it), or as given when it has none; "(unreadable URL)" when it has userinfo that
 * curl cannot read. Never holds a credential of the URL's. Caller frees. */
char *url_display(const char *url);

#endif
