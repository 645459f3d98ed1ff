/* http(s) URLs through libcurl's URL API (see url.h). */
#include "common/url.h"

#include "common/err.h"
#include "common/xalloc.h"

#include <string.h>

char *url_for_curl(const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *a = scheme != NULL ? scheme + 3 : url;
    size_t alen = strcspn(a, "/?#");
    const char *last_at = NULL;
    size_t n_at = 0;
    for (const char *q = a; q < a + alen; q++) {
        if (*q == '@') {
            last_at = q;
            n_at++;
        }
    }
    char *out = xmalloc(strlen(url) + 2 * n_at + 1), *w = out;
    for (const char *q = url; *q != '\0'; q++) {
        if (*q == '@' && q >= a && q < last_at) {
            memcpy(w, "%40", 3);
            w += 3;
        } else {
            *w++ = *q;
        }
    }
    *w = '\0';
    return out;
}

CURLUcode url_parse(const char *url, CURLU **out)
{
    char *text = url_for_curl(url);
    *out = curl_url();
    IWR_ASSERT(*out != NULL); /* only fails out of memory, like xmalloc */
    CURLUcode rc = curl_url_set(*out, CURLUPART_URL, text, 0);
    free(text);
    return rc;
}

char *url_display(const char *url)
{
    CURLU *u = NULL;
    char *user = NULL, *shown = NULL, *out = NULL;
    /* Without user:password@ (or when curl cannot read it) the text stays as configured. */
    if (url_parse(url, &u) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &shown, 0) == CURLUE_OK) {
        size_t n = strlen(shown);
        /* curl shows an empty path as "/"; a configured base URL has its trailing '/' cut. */
        if (n > 0 && shown[n - 1] == '/' && url[0] != '\0' && url[strlen(url) - 1] != '/')
            n--;
        out = xstrndup(shown, n);
    } else if (user == NULL) {
        out = xstrdup(url);
    } else {
        out = xstrdup("(unreadable URL)"); /* never show what might hold a password */
    }
    curl_free(user);
    curl_free(shown);
    curl_url_cleanup(u);
    return out;
}
