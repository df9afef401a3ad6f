/* bot-detection: refuses known crawlers by User-Agent (Kong priority 2500). The stripped
 * User-Agent is tried against allow (pass), deny (403), then Kong's built-in crawler
 * patterns (kong/plugins/bot-detection/rules.lua, from ua-parser), unanchored as ngx.re.find.
 * Config regexes are compiled per instance, the built-in ones once per snapshot (init).
 * Kong's per-config LRU cache of results is not kept: every request runs the patterns. */
#include <stdio.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "plugin.h"
#include "schema.h"

struct relist {
    pcre2_code **re;
    uint32_t n;
};

struct conf {
    struct relist allow, deny;
};

static const char *const bots[] = {
    "(Pingdom.com_bot_version_)(\\d+)\\.(\\d+)",
    "(facebookexternalhit)/(\\d+)\\.(\\d+)",
    "Google.*/\\+/web/snippet",
    "(Twitterbot)/(\\d+)\\.(\\d+)",
    "/((?:Ant-)?Nutch|[A-z]+[Bb]ot|[A-z]+[Ss]pider|Axtaris|fetchurl|Isara|ShopSalad|Tailsweep)"
    "[ \\-](\\d+)(?:\\.(\\d+)(?:\\.(\\d+))?)?",
    "(008|Altresium|Argus|BaiduMobaider|BoardReader|DNSGroup|DataparkSearch|EDI|Goodzer|Grub|"
    "INGRID|Infohelfer|LinkedInBot|LOOQ|Nutch|PathDefender|Peew|PostPost|Steeler|Twitterbot|VSE|"
    "WebCrunch|WebZIP|Y!J-BR[A-Z]|YahooSeeker|envolk|sproose|wminer)/(\\d+)(?:\\.(\\d+)"
    "(?:\\.(\\d+))?)?",
    "(MSIE) (\\d+)\\.(\\d+)([a-z]\\d?)?;.* MSIECrawler",
    "(Google-HTTP-Java-Client|Apache-HttpClient|http%20client|Python-urllib|HttpMonitor|"
    "TLSProber|WinHTTP|JNLP)(?:[ /](\\d+)(?:\\.(\\d+)(?:\\.(\\d+))?)?)?",
    "(1470\\.net crawler|50\\.nu|8bo Crawler Bot|Aboundex|Accoona-[A-z]+-Agent|"
    "AdsBot-Google(?:-[a-z]+)?|altavista|AppEngine-Google|archive.*?\\.org_bot|archiver|"
    "Ask Jeeves|[Bb]ai[Dd]u[Ss]pider(?:-[A-Za-z]+)*|bingbot|BingPreview|blitzbot|BlogBridge|"
    "BoardReader(?: [A-Za-z]+)*|boitho.com-dc|BotSeer|\\b\\w*favicon\\w*\\b|\\bYeti(?:-[a-z]+)?|"
    "Catchpoint bot|[Cc]harlotte|Checklinks|clumboot|Comodo HTTP\\(S\\) Crawler|"
    "Comodo-Webinspector-Crawler|ConveraCrawler|CRAWL-E|CrawlConvera|Daumoa(?:-feedfetcher)?|"
    "Feed Seeker Bot|findlinks|Flamingo_SearchEngine|FollowSite Bot|furlbot|Genieo|gigabot|"
    "GomezAgent|gonzo1|(?:[a-zA-Z]+-)?Googlebot(?:-[a-zA-Z]+)?|Google SketchUp|grub-client|"
    "gsa-crawler|heritrix|HiddenMarket|holmes|HooWWWer|htdig|ia_archiver|ICC-Crawler|Icarus6j|"
    "ichiro(?:/mobile)?|IconSurf|IlTrovatore(?:-Setaccio)?|InfuzApp|Innovazion Crawler|"
    "InternetArchive|IP2[a-z]+Bot|jbot\\b|KaloogaBot|Kraken|Kurzor|larbin|LEIA|LesnikBot|"
    "Linguee Bot|LinkAider|LinkedInBot|Lite Bot|Llaut|lycos|Mail\\.RU_Bot|masidani_bot|"
    "Mediapartners-Google|Microsoft .*? Bot|mogimogi|mozDex|MJ12bot|msnbot(?:-media *)?|msrbot|"
    "netresearch|Netvibes|NewsGator[^/]*|^NING|Nutch[^/]*|Nymesis|ObjectsSearch|Orbiter|OOZBOT|"
    "PagePeeker|PagesInventory|PaxleFramework|Peeplo Screenshot Bot|PlantyNet_WebRobot|Pompos|"
    "Read%20Later|Reaper|RedCarpet|Retreiver|Riddler|Rival IQ|scooter|Scrapy|Scrubby|"
    "searchsight|seekbot|semanticdiscovery|Simpy|SimplePie|SEOstats|SimpleRSS|SiteCon|Slurp|"
    "snappy|Speedy Spider|Squrl Java|TheUsefulbot|ThumbShotsBot|Thumbshots\\.ru|TwitterBot|"
    "URL2PNG|Vagabondo|VoilaBot|^vortex|Votay bot|^voyager|WASALive.Bot|Web-sniffer|WebThumb|"
    "WeSEE:[A-z]+|WhatWeb|WIRE|WordPress|Wotbox|www\\.almaden\\.ibm\\.com|"
    "Xenu(?:.s)? Link Sleuth|Xerka [A-z]+Bot|yacy(?:bot)?|Yahoo[a-z]*Seeker|Yahoo! Slurp|"
    "Yandex\\w+|YodaoBot(?:-[A-z]+)?|YottaaMonitor|Yowedo|^Zao|^Zao-Crawler|ZeBot_www\\.ze\\.bz|"
    "ZooShot|ZyBorg)(?:[ /]v?(\\d+)(?:\\.(\\d+)(?:\\.(\\d+))?)?)?",
    "(?:\\/[A-Za-z0-9\\.]+)? *([A-Za-z0-9 \\-_\\!\\[\\]:]*(?:[Aa]rchiver|[Ii]ndexer|[Ss]craper|"
    "[Bb]ot|[Ss]pider|[Cc]rawl[a-z]*))/(\\d+)(?:\\.(\\d+)(?:\\.(\\d+))?)?",
    "(?:\\/[A-Za-z0-9\\.]+)? *([A-Za-z0-9 _\\!\\[\\]:]*(?:[Aa]rchiver|[Ii]ndexer|[Ss]craper|"
    "[Bb]ot|[Ss]pider|[Cc]rawl[a-z]*)) (\\d+)(?:\\.(\\d+)(?:\\.(\\d+))?)?",
    "((?:[A-z0-9]+|[A-z\\-]+ ?)?(?: the )?(?:[Ss][Pp][Ii][Dd][Ee][Rr]|[Ss]crape|"
    "[A-Za-z0-9-]*(?:[^C][^Uu])[Bb]ot|[Cc][Rr][Aa][Ww][Ll])[A-z0-9]*)(?:(?:[ /]| v)(\\d+)"
    "(?:\\.(\\d+)(?:\\.(\\d+))?)?)?",
};
#define NBOTS (sizeof bots / sizeof bots[0])

static void
free_re(void *re)
{
    pcre2_code_free(re);
}

static pcre2_code *
compile_re(const char *pat, struct gw_arena *a)
{
    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, 0, &errcode, &erroff, NULL);

    if (re && gw_arena_on_destroy(a, free_re, re) != 0) {
        pcre2_code_free(re);
        return NULL;
    }
    return re;
}

static int
compile_list(const struct gw_val *arr, struct relist *l, struct gw_arena *a, char *err,
             size_t errlen)
{
    if (arr == NULL || arr->type != GW_V_ARR || arr->n == 0) {
        return 0;
    }
    if ((l->re = gw_arena_calloc(a, sizeof *l->re * arr->n)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < arr->n; i++) {
        if ((l->re[i] = compile_re(arr->u.items[i].u.s, a)) == NULL) {
            snprintf(err, errlen, "bot-detection: cannot compile regex '%.64s'",
                     arr->u.items[i].u.s);
            return -1;
        }
    }
    l->n = arr->n;
    return 0;
}

static void *
compile(const struct gw_record *r, const struct gw_val *c, struct gw_arena *a, char *err,
        size_t errlen)
{
    struct conf *k = gw_arena_calloc(a, sizeof *k);

    if (k == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (compile_list(gw_rec_get(r, c, "allow"), &k->allow, a, err, errlen) != 0 ||
        compile_list(gw_rec_get(r, c, "deny"), &k->deny, a, err, errlen) != 0) {
        return NULL;
    }
    return k;
}

/* The built-in patterns, shared by every instance of the snapshot. A pattern that does not
 * compile is left NULL and skipped (they are constants, so that would be our bug). */
static void *
init(const struct gw_snapshot *s, struct gw_arena *a)
{
    struct relist *l = gw_arena_calloc(a, sizeof *l);
    (void)s;

    if (l == NULL || (l->re = gw_arena_calloc(a, sizeof *l->re * NBOTS)) == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < NBOTS; i++) {
        l->re[i] = compile_re(bots[i], a);
    }
    l->n = NBOTS;
    return l;
}

static int
any(const struct relist *l, struct gw_str ua, pcre2_match_data *md)
{
    for (uint32_t i = 0; l && i < l->n; i++) {
        if (l->re[i] && pcre2_match(l->re[i], (PCRE2_SPTR)ua.p, ua.n, 0, 0, md, NULL) >= 0) {
            return 1;
        }
    }
    return 0;
}

static int
is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

static int
access(struct gw_pctx *ctx, const void *conf, const void *global)
{
    const struct conf *k = conf;
    unsigned count;
    struct gw_str ua = gw_pctx_header(ctx, "User-Agent", &count);
    pcre2_match_data *md;
    int blocked;

    if (count > 1) {
        return gw_pctx_error(ctx, 400, "Only one User-Agent header allowed");
    }
    if (ua.p == NULL) {
        return 0;
    }
    while (ua.n && is_space(ua.p[0])) { /* Kong's strip() */
        ua.p++, ua.n--;
    }
    while (ua.n && is_space(ua.p[ua.n - 1])) {
        ua.n--;
    }
    if ((md = pcre2_match_data_create(1, NULL)) == NULL) {
        return gw_pctx_error(ctx, 500, "An unexpected error occurred");
    }
    blocked = !any(&k->allow, ua, md) && (any(&k->deny, ua, md) || any(global, ua, md));
    pcre2_match_data_free(md);
    return blocked ? gw_pctx_error(ctx, 403, "Forbidden") : 0;
}

const struct gw_plugin gw_handler_bot_detection = {
    .schema = &gw_schema_bot_detection,
    .compile = compile,
    .init = init,
    .access = access,
};
