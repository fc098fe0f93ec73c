/*
 * ngx_http_booking_module: directives, configuration and process hooks.
 *
 * Every value is checked here, when the configuration is read, so that
 * "nginx -t" names the directive, file and line of any mistake.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/rand.h>

#include "ngx_booking_http.h"


#define NGX_BOOKING_FILE_MAX  4096

/* the largest JWKS read */
#define NGX_BOOKING_JWKS_FILE_MAX  (1024 * 1024)
#define NGX_BOOKING_SECRET_LEN  32

/* nginx -t names the directive of every mistake */
#define NGX_BOOKING_TYPE_ERR   "\"booking_type\" directive: "


static void *ngx_booking_create_main_conf(ngx_conf_t *cf);
static char *ngx_booking_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_booking_create_loc_conf(ngx_conf_t *cf);
static char *ngx_booking_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_booking_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_booking_postconfiguration(ngx_conf_t *cf);

static char *ngx_booking_cluster(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_booking_sentinel(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_booking_replicas(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_addr_t *ngx_booking_conf_addrs(ngx_conf_t *cf, ngx_uint_t first,
    in_port_t port);
static ngx_addr_t *ngx_booking_conf_addr(ngx_conf_t *cf, ngx_str_t *url,
    in_port_t port, const char *directive);
static char *ngx_booking_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_booking_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_booking_conf_read(ngx_conf_t *cf, ngx_str_t *directive,
    ngx_str_t *file, size_t max, ngx_str_t *text);
static char *ngx_booking_type(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_booking_type_option(ngx_conf_t *cf, ngx_booking_type_t *t,
    ngx_str_t *opt);
static char *ngx_booking_type_check(ngx_conf_t *cf, ngx_booking_type_t *t);
static char *ngx_booking_duration(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_booking_id_pattern(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_booking_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_booking_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_booking_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_booking_jwt_keys(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_booking_quota(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_booking_quota_option(ngx_conf_t *cf,
    ngx_booking_quota_conf_t *q, ngx_str_t *opt);
static ngx_int_t ngx_booking_conf_name(ngx_str_t *name);
static ngx_array_t *ngx_booking_conf_list(ngx_conf_t *cf, ngx_str_t *text);
static ngx_int_t ngx_booking_quota_types(ngx_conf_t *cf,
    ngx_booking_ops_conf_t *ops);
static void ngx_booking_tz_cleanup(void *data);
static char *ngx_booking_type_tz(ngx_conf_t *cf, ngx_booking_type_t *t,
    ngx_str_t *v);
static char *ngx_booking_jwt_claims(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_booking_connections_bounds(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_booking_database_bounds(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_booking_timeout_bounds(ngx_conf_t *cf, void *post,
    void *data);

static ngx_int_t ngx_booking_secret_zone(ngx_conf_t *cf,
    ngx_booking_main_conf_t *bmcf);
static ngx_int_t ngx_booking_secret_init(ngx_shm_zone_t *zone, void *data);
static ngx_int_t ngx_booking_events_conf(ngx_conf_t *cf,
    ngx_booking_ops_conf_t *ops);
static ngx_int_t ngx_booking_metrics_zone(ngx_conf_t *cf);
static ngx_int_t ngx_booking_metrics_init(ngx_shm_zone_t *zone, void *data);

static ngx_int_t ngx_booking_init_process(ngx_cycle_t *cycle);
static void ngx_booking_exit_process(ngx_cycle_t *cycle);


/* a billion events: far more than a Redis would hold in memory */
static ngx_conf_num_bounds_t  ngx_booking_events_bounds = {
    ngx_conf_check_num_bounds, 1, 1000000000
};

static ngx_conf_enum_t  ngx_booking_jwt_modes[] = {
    { ngx_string("off"), NGX_BOOKING_JWT_OFF },
    { ngx_string("on"), NGX_BOOKING_JWT_ON },
    { ngx_string("optional"), NGX_BOOKING_JWT_OPTIONAL },
    { ngx_null_string, 0 }
};

static ngx_conf_post_handler_pt  ngx_booking_connections_post =
    ngx_booking_connections_bounds;
static ngx_conf_post_handler_pt  ngx_booking_database_post =
    ngx_booking_database_bounds;
static ngx_conf_post_handler_pt  ngx_booking_timeout_post =
    ngx_booking_timeout_bounds;


static ngx_command_t  ngx_booking_commands[] = {

    { ngx_string("booking_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_booking_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("booking_redis_sentinel"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_booking_sentinel,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("booking_redis_cluster"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_booking_cluster,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("booking_redis_replicas"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_booking_replicas,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("booking_redis_password_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_booking_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_booking_main_conf_t, store.password),
      NULL },

    { ngx_string("booking_redis_database"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_booking_main_conf_t, store.database),
      &ngx_booking_database_post },

    { ngx_string("booking_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_booking_main_conf_t, store.timeout),
      &ngx_booking_timeout_post },

    { ngx_string("booking_redis_connections"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_booking_main_conf_t, store.connections),
      &ngx_booking_connections_post },

    { ngx_string("booking_type"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_booking_type,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("booking_user"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_booking_loc_conf_t, user),
      NULL },

    { ngx_string("booking_user_groups"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_booking_loc_conf_t, user_groups),
      NULL },

    { ngx_string("booking_jwt"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_booking_loc_conf_t, jwt),
      &ngx_booking_jwt_modes },

    { ngx_string("booking_jwt_keys"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_booking_jwt_keys,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("booking_jwt_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_booking_main_conf_t, jwt.issuer),
      NULL },

    { ngx_string("booking_jwt_audience"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_booking_main_conf_t, jwt.audience),
      NULL },

    { ngx_string("booking_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_booking_main_conf_t, jwt.leeway),
      NULL },

    { ngx_string("booking_jwt_claims"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_booking_jwt_claims,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("booking_quota"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_booking_quota,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("booking_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_booking_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_booking_main_conf_t, ops.secret),
      NULL },

    { ngx_string("booking_anonymous"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_booking_loc_conf_t, anonymous),
      NULL },

    { ngx_string("booking_id_pattern"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_booking_id_pattern,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("booking_max_range"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_booking_duration,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_booking_main_conf_t, ops.max_range),
      NULL },

    { ngx_string("booking_events"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_booking_main_conf_t, ops.events_on),
      NULL },

    { ngx_string("booking_sweeper"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_booking_main_conf_t, ops.sweeper),
      NULL },

    /* for fault tests: a wait between the phases of a group across slots */
    { ngx_string("booking_group_pause"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_booking_main_conf_t, ops.group_pause),
      NULL },

    { ngx_string("booking_events_maxlen"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_booking_main_conf_t, ops.events_max),
      &ngx_booking_events_bounds },

    { ngx_string("booking_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_booking_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("booking_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_booking_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("booking_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_booking_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_booking_module_ctx = {
    ngx_booking_preconfiguration,          /* preconfiguration */
    ngx_booking_postconfiguration,         /* postconfiguration */

    ngx_booking_create_main_conf,          /* create main configuration */
    ngx_booking_init_main_conf,            /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_booking_create_loc_conf,           /* create location configuration */
    ngx_booking_merge_loc_conf             /* merge location configuration */
};


ngx_module_t  ngx_http_booking_module = {
    NGX_MODULE_V1,
    &ngx_booking_module_ctx,               /* module context */
    ngx_booking_commands,                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_booking_init_process,              /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_booking_exit_process,              /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* set by booking_api and booking_status: only then does a worker connect */
static ngx_uint_t  ngx_booking_used;


static void *
ngx_booking_create_main_conf(ngx_conf_t *cf)
{
    ngx_booking_main_conf_t  *bmcf;

    bmcf = ngx_pcalloc(cf->pool, sizeof(ngx_booking_main_conf_t));
    if (bmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&bmcf->ops.types, cf->pool, 8,
                       sizeof(ngx_booking_type_t))
        != NGX_OK
        || ngx_array_init(&bmcf->ops.quotas, cf->pool, 4,
                          sizeof(ngx_booking_quota_conf_t))
           != NGX_OK)
    {
        return NULL;
    }

    bmcf->store.database = NGX_CONF_UNSET;
    bmcf->store.timeout = NGX_CONF_UNSET_MSEC;
    bmcf->store.connections = NGX_CONF_UNSET_UINT;
    bmcf->store.replicas = NGX_CONF_UNSET_UINT;
    bmcf->store.replicas_timeout = NGX_CONF_UNSET_MSEC;
    bmcf->ops.max_range = NGX_CONF_UNSET;
    bmcf->ops.events_on = NGX_CONF_UNSET;
    bmcf->ops.events_max = NGX_CONF_UNSET;
    bmcf->ops.group_pause = NGX_CONF_UNSET_MSEC;
    bmcf->ops.sweeper = NGX_CONF_UNSET;
    bmcf->cache_valid = NGX_CONF_UNSET;
    bmcf->jwt.leeway = NGX_CONF_UNSET;

    ngx_booking_used = 0;

    return bmcf;
}


static char *
ngx_booking_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_booking_main_conf_t *bmcf = conf;

    ngx_url_t            u;
    ngx_uint_t           i;
    ngx_booking_type_t  *t;

    ngx_conf_init_value(bmcf->ops.max_range, 366 * 86400);
    ngx_conf_init_msec_value(bmcf->ops.group_pause, 0);
    ngx_conf_init_value(bmcf->ops.sweeper, 1);

    if (ngx_booking_events_conf(cf, &bmcf->ops) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    bmcf->ops.cluster = (bmcf->store.nseeds > 0);

    if (ngx_booking_rules(cf, &bmcf->ops) != NGX_OK
        || ngx_booking_quota_types(cf, &bmcf->ops) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    t = bmcf->ops.types.elts;

    for (i = 0; i < bmcf->ops.types.nelts; i++) {
        if (t[i].slot != 0 && ngx_booking_longest(&bmcf->ops, &t[i]) < t[i].min)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               NGX_BOOKING_TYPE_ERR
                               "type \"%V\": no booking could be as long "
                               "as its min within booking_max_range",
                               &t[i].name);
            return NGX_CONF_ERROR;
        }
    }

    if (bmcf->store.nseeds && bmcf->store.database > 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "booking_redis_database must be 0 with "
                           "booking_redis_cluster: a cluster has database "
                           "0 only");
        return NGX_CONF_ERROR;
    }

    if (bmcf->store.addr == NULL && bmcf->store.nsentinels == 0
        && bmcf->store.nseeds == 0)
    {
        ngx_memzero(&u, sizeof(ngx_url_t));
        ngx_str_set(&u.url, "127.0.0.1:6379");

        if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
            return NGX_CONF_ERROR;
        }

        bmcf->store.addr = &u.addrs[0];
        bmcf->store.name = u.url;
    }

    ngx_conf_init_value(bmcf->store.database, 0);
    ngx_conf_init_msec_value(bmcf->store.timeout, 250);
    ngx_conf_init_uint_value(bmcf->store.connections, 2);
    ngx_conf_init_uint_value(bmcf->store.replicas, 0);
    ngx_conf_init_msec_value(bmcf->store.replicas_timeout,
                             bmcf->store.timeout);
    ngx_conf_init_value(bmcf->cache_valid, 1);

    if (bmcf->ops.secret.len == 0
        && ngx_booking_secret_zone(cf, bmcf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_booking_metrics_zone(cf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return ngx_booking_auth_conf(cf, &bmcf->jwt);
}


static void *
ngx_booking_create_loc_conf(ngx_conf_t *cf)
{
    ngx_booking_loc_conf_t  *blcf;

    blcf = ngx_pcalloc(cf->pool, sizeof(ngx_booking_loc_conf_t));
    if (blcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     blcf->api = NGX_BOOKING_API_OFF;
     *     blcf->status = 0;
     */

    blcf->user = NGX_CONF_UNSET_PTR;
    blcf->user_groups = NGX_CONF_UNSET_PTR;
    blcf->anonymous = NGX_CONF_UNSET;
    blcf->jwt = NGX_CONF_UNSET_UINT;

    return blcf;
}


static char *
ngx_booking_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_booking_loc_conf_t *prev = parent;
    ngx_booking_loc_conf_t *conf = child;

    ngx_booking_main_conf_t  *bmcf;

    ngx_conf_merge_ptr_value(conf->user, prev->user, NULL);
    ngx_conf_merge_ptr_value(conf->user_groups, prev->user_groups, NULL);
    ngx_conf_merge_value(conf->anonymous, prev->anonymous, 0);
    ngx_conf_merge_uint_value(conf->jwt, prev->jwt, NGX_BOOKING_JWT_OFF);

    bmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_booking_module);

    if (conf->jwt != NGX_BOOKING_JWT_OFF && bmcf->jwt.keys == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"booking_jwt\" needs \"booking_jwt_keys\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_booking_preconfiguration(ngx_conf_t *cf)
{
    return ngx_booking_http_add_variables(cf);
}


static ngx_int_t
ngx_booking_postconfiguration(ngx_conf_t *cf)
{
    if (ngx_booking_status_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_booking_http_init_filters(cf);
}


static char *
ngx_booking_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_booking_main_conf_t *bmcf = conf;

    ngx_str_t  *value;

    if (bmcf->store.addr != NULL || bmcf->store.nsentinels
        || bmcf->store.nseeds)
    {
        return "is duplicate";
    }

    value = cf->args->elts;

    bmcf->store.addr = ngx_booking_conf_addr(cf, &value[1], 6379,
                                             "booking_redis");
    if (bmcf->store.addr == NULL) {
        return NGX_CONF_ERROR;
    }

    bmcf->store.name = value[1];

    return NGX_CONF_OK;
}


/* booking_redis_sentinel NAME host:port ...: the master is the sentinels' */
static char *
ngx_booking_sentinel(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_booking_main_conf_t *bmcf = conf;

    ngx_str_t  *value;

    if (bmcf->store.addr != NULL || bmcf->store.nsentinels
        || bmcf->store.nseeds)
    {
        return "is duplicate";
    }

    value = cf->args->elts;

    bmcf->store.sentinels = ngx_booking_conf_addrs(cf, 2, 26379);
    if (bmcf->store.sentinels == NULL) {
        return NGX_CONF_ERROR;
    }

    bmcf->store.nsentinels = cf->args->nelts - 2;
    bmcf->store.master = value[1];
    bmcf->store.name = value[1];

    return NGX_CONF_OK;
}


/* booking_redis_cluster host:port ...: seeds, asked for the slots' table */
static char *
ngx_booking_cluster(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_booking_main_conf_t *bmcf = conf;

    if (bmcf->store.addr != NULL || bmcf->store.nsentinels
        || bmcf->store.nseeds)
    {
        return "is duplicate";
    }

    bmcf->store.seeds = ngx_booking_conf_addrs(cf, 1, 6379);
    if (bmcf->store.seeds == NULL) {
        return NGX_CONF_ERROR;
    }

    bmcf->store.nseeds = cf->args->nelts - 1;
    ngx_str_set(&bmcf->store.name, "cluster");

    return NGX_CONF_OK;
}


/*
 * booking_redis_replicas N [timeout=T]: every script waits until N
 * replicas have its writes, T at most (booking_redis_timeout by default).
 */
static char *
ngx_booking_replicas(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_booking_main_conf_t *bmcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value, t;

    if (bmcf->store.replicas != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);

    if (n < 0 || n > 16) {
        return "takes a number of replicas from 0 to 16";
    }

    bmcf->store.replicas = n;

    if (cf->args->nelts == 3) {
        if (value[2].len <= 8
            || ngx_strncmp(value[2].data, "timeout=", 8) != 0)
        {
            return "takes \"timeout=\" after the number of replicas";
        }

        t.data = value[2].data + 8;
        t.len = value[2].len - 8;

        bmcf->store.replicas_timeout = ngx_parse_time(&t, 0);

        if (bmcf->store.replicas_timeout == (ngx_msec_t) NGX_ERROR
            || bmcf->store.replicas_timeout < 1
            || bmcf->store.replicas_timeout > 60000)
        {
            return "takes a timeout from 1ms to 60s";
        }
    }

    return NGX_CONF_OK;
}


/* resolved here, once: a worker never looks a name up */
/* the directive's addresses from argument first on, port the default */
static ngx_addr_t *
ngx_booking_conf_addrs(ngx_conf_t *cf, ngx_uint_t first, in_port_t port)
{
    ngx_str_t   *value;
    ngx_uint_t   i;
    ngx_addr_t  *addrs, *addr;

    value = cf->args->elts;

    addrs = ngx_pcalloc(cf->pool, (cf->args->nelts - first)
                                  * sizeof(ngx_addr_t));
    if (addrs == NULL) {
        return NULL;
    }

    for (i = first; i < cf->args->nelts; i++) {
        addr = ngx_booking_conf_addr(cf, &value[i], port,
                                     (const char *) value[0].data);
        if (addr == NULL) {
            return NULL;
        }

        addrs[i - first] = *addr;
    }

    return addrs;
}


static ngx_addr_t *
ngx_booking_conf_addr(ngx_conf_t *cf, ngx_str_t *url, in_port_t port,
    const char *directive)
{
    ngx_url_t  u;

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = *url;
    u.default_port = port;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%s\" directive: %s in \"%V\"",
                               directive, u.err, &u.url);
        }

        return NULL;
    }

    if (u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" directive: no address for \"%V\"",
                           directive, &u.url);
        return NULL;
    }

    return &u.addrs[0];
}


static char *
ngx_booking_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t  *value, *field, text;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_booking_conf_read(cf, &cmd->name, &value[1], NGX_BOOKING_FILE_MAX,
                              &text)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* the trailing newline an editor adds is not part of the secret */
    while (text.len > 0
           && (text.data[text.len - 1] == '\n'
               || text.data[text.len - 1] == '\r'
               || text.data[text.len - 1] == ' '
               || text.data[text.len - 1] == '\t'))
    {
        text.len--;
    }

    if (text.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" directive: \"%V\" is empty",
                           &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    if (field == &((ngx_booking_main_conf_t *) conf)->ops.secret
        && text.len < 16)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" directive: \"%V\" holds fewer than 16 bytes",
                           &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    *field = text;

    return NGX_CONF_OK;
}


/* a file named in nginx.conf, whole, when it is at most max bytes */
static ngx_int_t
ngx_booking_conf_read(ngx_conf_t *cf, ngx_str_t *directive, ngx_str_t *file,
    size_t max, ngx_str_t *text)
{
    ssize_t           n;
    ngx_str_t         name;
    ngx_file_t        f;
    ngx_file_info_t   fi;

    name = *file;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&f, sizeof(ngx_file_t));
    f.name = name;
    f.log = cf->log;

    f.fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (f.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\" directive: " ngx_open_file_n
                           " \"%V\" failed", directive, &name);
        return NGX_ERROR;
    }

    n = NGX_ERROR;

    if (ngx_fd_info(f.fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &name);

    } else if ((size_t) ngx_file_size(&fi) > max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" directive: \"%V\" is larger than %uz "
                           "bytes", directive, &name, max);

    } else {
        text->data = ngx_pnalloc(cf->pool, ngx_file_size(&fi) + 1);

        if (text->data != NULL) {
            n = ngx_read_file(&f, text->data, ngx_file_size(&fi), 0);
        }
    }

    ngx_close_file(f.fd);

    if (n == NGX_ERROR) {
        return NGX_ERROR;
    }

    text->len = n;

    return NGX_OK;
}


static char *
ngx_booking_type(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_booking_main_conf_t *bmcf = conf;

    char                *rv;
    ngx_str_t           *value;
    ngx_uint_t           i;
    ngx_booking_type_t  *t;

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > NGX_BOOKING_TYPE_NAME_MAX) {
        return "has a name that is not 1 to 32 characters";
    }

    if (ngx_booking_conf_name(&value[1]) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           NGX_BOOKING_TYPE_ERR
                           "invalid type name \"%V\": use a-z 0-9 _ -",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_booking_find_type(&bmcf->ops, value[1].data, value[1].len) != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           NGX_BOOKING_TYPE_ERR
                           "duplicate type \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    t = ngx_array_push(&bmcf->ops.types);
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(t, sizeof(ngx_booking_type_t));
    t->name = value[1];
    t->slot = -1;
    t->hold = -1;
    t->hold_max = -1;
    t->min = -1;
    t->max = -1;
    t->buffer = -1;
    t->lead = -1;
    t->horizon = -1;
    t->approval = NGX_CONF_UNSET;
    t->waitlist = NGX_CONF_UNSET;
    t->max_active = NGX_CONF_UNSET_UINT;
    t->repeat_max = NGX_CONF_UNSET_UINT;

    for (i = 2; i < cf->args->nelts; i++) {
        rv = ngx_booking_type_option(cf, t, &value[i]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    return ngx_booking_type_check(cf, t);
}


static char *
ngx_booking_type_option(ngx_conf_t *cf, ngx_booking_type_t *t, ngx_str_t *opt)
{
    u_char      *eq;
    int64_t      secs, *field;
    ngx_int_t    n;
    ngx_str_t    name, v;
    ngx_flag_t  *flag;

    eq = ngx_strlchr(opt->data, opt->data + opt->len, '=');
    if (eq == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           NGX_BOOKING_TYPE_ERR
                           "invalid option \"%V\": expected name=value", opt);
        return NGX_CONF_ERROR;
    }

    name.data = opt->data;
    name.len = eq - opt->data;
    v.data = eq + 1;
    v.len = opt->data + opt->len - v.data;

    if ((name.len == 8 && ngx_strncmp(name.data, "approval", 8) == 0)
        || (name.len == 8 && ngx_strncmp(name.data, "waitlist", 8) == 0))
    {
        flag = (name.data[0] == 'a') ? &t->approval : &t->waitlist;

        if (*flag != NGX_CONF_UNSET) {
            goto duplicate;
        }

        if (v.len == 2 && ngx_strncmp(v.data, "on", 2) == 0) {
            *flag = 1;

        } else if (v.len == 3 && ngx_strncmp(v.data, "off", 3) == 0) {
            *flag = 0;

        } else {
            goto invalid;
        }

        return NGX_CONF_OK;
    }

    if (name.len == 10 && ngx_strncmp(name.data, "max_active", 10) == 0) {
        if (t->max_active != NGX_CONF_UNSET_UINT) {
            goto duplicate;
        }

        n = ngx_atoi(v.data, v.len);
        if (n < 1 || n > 1000000) {
            goto invalid;
        }

        t->max_active = n;
        return NGX_CONF_OK;
    }

    /* occurrences of one series: each is checked and counted in one step */
    if (name.len == 10 && ngx_strncmp(name.data, "repeat_max", 10) == 0) {
        if (t->repeat_max != NGX_CONF_UNSET_UINT) {
            goto duplicate;
        }

        n = ngx_atoi(v.data, v.len);
        if (n < 1 || n > NGX_BOOKING_REPEAT_MAX) {
            goto invalid;
        }

        t->repeat_max = n;
        return NGX_CONF_OK;
    }

    if (name.len == 2 && ngx_strncmp(name.data, "tz", 2) == 0) {
        if (t->tz != NULL) {
            goto duplicate;
        }

        return ngx_booking_type_tz(cf, t, &v);
    }

    if (name.len == 4 && ngx_strncmp(name.data, "slot", 4) == 0) {
        if (t->slot != -1) {
            goto duplicate;
        }

        if (v.len == 4 && ngx_strncmp(v.data, "none", 4) == 0) {
            t->slot = 0;
            t->slot_text = v;
            return NGX_CONF_OK;
        }

        if (ngx_booking_parse_duration(v.data, v.len, &secs) != NGX_BOOKING_OK
            || secs < 60)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               NGX_BOOKING_TYPE_ERR
                               "invalid slot \"%V\": a duration of at least "
                               "1m, or \"none\"", &v);
            return NGX_CONF_ERROR;
        }

        t->slot = secs;
        t->slot_text = v;
        return NGX_CONF_OK;
    }

    if (name.len == 4 && ngx_strncmp(name.data, "hold", 4) == 0) {
        field = &t->hold;

    } else if (name.len == 8 && ngx_strncmp(name.data, "hold_max", 8) == 0) {
        field = &t->hold_max;

    } else if (name.len == 3 && ngx_strncmp(name.data, "min", 3) == 0) {
        field = &t->min;

    } else if (name.len == 3 && ngx_strncmp(name.data, "max", 3) == 0) {
        field = &t->max;

    } else if (name.len == 6 && ngx_strncmp(name.data, "buffer", 6) == 0) {
        field = &t->buffer;

    } else if (name.len == 4 && ngx_strncmp(name.data, "lead", 4) == 0) {
        field = &t->lead;

    } else if (name.len == 7 && ngx_strncmp(name.data, "horizon", 7) == 0) {
        field = &t->horizon;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           NGX_BOOKING_TYPE_ERR
                           "unknown option \"%V\" of type \"%V\"",
                           &name, &t->name);
        return NGX_CONF_ERROR;
    }

    if (*field != -1) {
        goto duplicate;
    }

    if (ngx_booking_parse_duration(v.data, v.len, &secs) != NGX_BOOKING_OK) {
        goto invalid;
    }

    *field = secs;

    return NGX_CONF_OK;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       NGX_BOOKING_TYPE_ERR
                       "duplicate option \"%V\" of type \"%V\"",
                       &name, &t->name);
    return NGX_CONF_ERROR;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       NGX_BOOKING_TYPE_ERR
                       "invalid value \"%V\" of option \"%V\" of type \"%V\"",
                       &v, &name, &t->name);
    return NGX_CONF_ERROR;
}


static char *
ngx_booking_type_check(ngx_conf_t *cf, ngx_booking_type_t *t)
{
    if (t->slot == -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           NGX_BOOKING_TYPE_ERR
                           "type \"%V\" has no slot=", &t->name);
        return NGX_CONF_ERROR;
    }

    if (t->hold == -1) {
        t->hold = 15 * 60;
    }

    if (t->hold < 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           NGX_BOOKING_TYPE_ERR
                           "type \"%V\": hold must be at least 1s", &t->name);
        return NGX_CONF_ERROR;
    }

    /* by default a hold is never extended: its cap is its first expiry */
    if (t->hold_max == -1) {
        t->hold_max = t->hold;
    }

    if (t->hold_max < t->hold) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           NGX_BOOKING_TYPE_ERR
                           "type \"%V\": hold_max must not be below hold",
                           &t->name);
        return NGX_CONF_ERROR;
    }

    if (t->approval == NGX_CONF_UNSET) {
        t->approval = 0;
    }

    if (t->waitlist == NGX_CONF_UNSET) {
        t->waitlist = 0;
    }

    if (t->repeat_max == NGX_CONF_UNSET_UINT) {
        t->repeat_max = NGX_BOOKING_REPEAT_DEFAULT;
    }

    if (t->max_active == NGX_CONF_UNSET_UINT) {
        t->max_active = 0;
    }

    if (t->slot == 0) {
        if (t->min != -1 || t->max != -1 || t->buffer != -1 || t->lead != -1
            || t->horizon != -1)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               NGX_BOOKING_TYPE_ERR
                               "type \"%V\" has slot=none: min, max, buffer, "
                               "lead and horizon do not apply", &t->name);
            return NGX_CONF_ERROR;
        }

        t->min = 0;
        t->max = 0;
        t->buffer = 0;
        t->lead = 0;
        t->horizon = 0;

        return NGX_CONF_OK;
    }

    if (t->min == -1) {
        t->min = t->slot;
    }

    if (t->max == -1) {
        t->max = 0;
    }

    if (t->buffer == -1) {
        t->buffer = 0;
    }

    if (t->lead == -1) {
        t->lead = 0;
    }

    if (t->horizon == -1) {
        t->horizon = 0;
    }

    /* a booking is whole slots, so these must be too */
    if (t->min == 0 || t->min % t->slot != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           NGX_BOOKING_TYPE_ERR
                           "type \"%V\": min must be a non-zero multiple of "
                           "slot \"%V\"", &t->name, &t->slot_text);
        return NGX_CONF_ERROR;
    }

    if (t->max != 0 && (t->max % t->slot != 0 || t->max < t->min)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           NGX_BOOKING_TYPE_ERR
                           "type \"%V\": max must be a multiple of slot "
                           "\"%V\" and not below min", &t->name,
                           &t->slot_text);
        return NGX_CONF_ERROR;
    }

    if (t->buffer % t->slot != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           NGX_BOOKING_TYPE_ERR
                           "type \"%V\": buffer must be a whole number of "
                           "slots of \"%V\"", &t->name, &t->slot_text);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_booking_duration(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    int64_t    *field;
    ngx_str_t  *value;

    field = (int64_t *) (p + cmd->offset);

    if (*field != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_booking_parse_duration(value[1].data, value[1].len, field)
        != NGX_BOOKING_OK || *field == 0)
    {
        return "takes a duration such as \"366d\"";
    }

    return NGX_CONF_OK;
}


static char *
ngx_booking_id_pattern(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_booking_main_conf_t *bmcf = conf;

    u_char               errstr[NGX_MAX_CONF_ERRSTR];
    ngx_str_t           *value;
    ngx_regex_compile_t  rc;

    if (bmcf->ops.id_regex != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));
    rc.pattern = value[1];
    rc.pool = cf->pool;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    if (ngx_regex_compile(&rc) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"booking_id_pattern\" directive: %V", &rc.err);
        return NGX_CONF_ERROR;
    }

    bmcf->ops.id_regex = rc.regex;

    return NGX_CONF_OK;
}


static char *
ngx_booking_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_booking_main_conf_t *bmcf = conf;

    u_char      *p;
    ssize_t      size;
    ngx_str_t   *value, name, s;
    ngx_uint_t   i;

    if (bmcf->cache_zone != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name.len = 0;
    size = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {
            name.data = value[i].data + 5;
            p = (u_char *) ngx_strchr(name.data, ':');
            if (p == NULL) {
                goto invalid;
            }

            name.len = p - name.data;
            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_size(&s);
            if (name.len == 0 || size == NGX_ERROR
                || size < (ssize_t) (8 * ngx_pagesize))
            {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "valid=", 6) == 0) {
            if (ngx_booking_parse_duration(value[i].data + 6,
                                           value[i].len - 6,
                                           &bmcf->cache_valid)
                != NGX_BOOKING_OK || bmcf->cache_valid == 0)
            {
                goto invalid;
            }

            continue;
        }

        goto invalid;
    }

    if (name.len == 0) {
        return "needs zone=NAME:SIZE";
    }

    bmcf->cache_zone = ngx_shared_memory_add(cf, &name, size,
                                             &ngx_http_booking_module);
    if (bmcf->cache_zone == NULL
        || ngx_booking_cache_zone(cf, bmcf->cache_zone) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"booking_cache\" directive: invalid parameter \"%V\": "
                       "expected zone=NAME:SIZE (at least 8 pages) and "
                       "valid=TIME", &value[i]);
    return NGX_CONF_ERROR;
}


static char *
ngx_booking_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_booking_loc_conf_t *blcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (blcf->api != NGX_BOOKING_API_OFF || blcf->status) {
        return "is duplicate";
    }

    value = cf->args->elts;
    blcf->api = NGX_BOOKING_API_PUBLIC;

    if (cf->args->nelts == 2) {
        if (value[1].len != 5 || ngx_strncmp(value[1].data, "admin", 5) != 0) {
            return "takes no parameter or \"admin\"";
        }

        blcf->api = NGX_BOOKING_API_ADMIN;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_booking_api_handler;

    ngx_booking_used = 1;

    return NGX_CONF_OK;
}


static char *
ngx_booking_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_booking_loc_conf_t *blcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (blcf->api != NGX_BOOKING_API_OFF || blcf->status) {
        return "is duplicate";
    }

    blcf->status = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_booking_status_handler;

    ngx_booking_used = 1;

    return NGX_CONF_OK;
}


static char *
ngx_booking_jwt_keys(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_booking_main_conf_t *bmcf = conf;

    ngx_str_t  *value, text;

    if (bmcf->jwt.keys != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_booking_conf_read(cf, &cmd->name, &value[1],
                              NGX_BOOKING_JWKS_FILE_MAX, &text)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return ngx_booking_auth_keys(cf, &bmcf->jwt, &value[1], &text);
}


/* booking_jwt_claims user=<claim> [groups=<claim>] */
static char *
ngx_booking_jwt_claims(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_booking_main_conf_t *bmcf = conf;

    ngx_str_t   *value, *field;
    ngx_uint_t   i;

    if (bmcf->jwt.user_claim.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "user=", 5) == 0) {
            field = &bmcf->jwt.user_claim;
            value[i].data += 5;
            value[i].len -= 5;

        } else if (ngx_strncmp(value[i].data, "groups=", 7) == 0) {
            field = &bmcf->jwt.groups_claim;
            value[i].data += 7;
            value[i].len -= 7;

        } else {
            return "takes user=<claim> and groups=<claim>";
        }

        if (value[i].len == 0 || field->data != NULL) {
            return "takes user=<claim> and groups=<claim>";
        }

        *field = value[i];
    }

    if (bmcf->jwt.user_claim.data == NULL) {
        return "needs user=<claim>";
    }

    return NGX_CONF_OK;
}


/*
 * booking_quota name count=N|hours=N per=day|week|month [types=a,b]
 *               [groups=g,h] [tz=Area/City]
 */
static char *
ngx_booking_quota(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_booking_main_conf_t *bmcf = conf;

    char                      *rv;
    ngx_str_t                 *value;
    ngx_uint_t                 i;
    ngx_booking_quota_conf_t  *q, *other;

    value = cf->args->elts;
    other = bmcf->ops.quotas.elts;

    if (value[1].len == 0 || value[1].len > 32
        || ngx_booking_conf_name(&value[1]) != NGX_OK)
    {
        return "needs a name of 1 to 32 of a-z 0-9 _ -";
    }

    for (i = 0; i < bmcf->ops.quotas.nelts; i++) {
        if (other[i].name.len == value[1].len
            && ngx_strncmp(other[i].name.data, value[1].data,
                           value[1].len) == 0)
        {
            return "is duplicate";
        }
    }

    q = ngx_array_push(&bmcf->ops.quotas);
    if (q == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(q, sizeof(ngx_booking_quota_conf_t));
    q->name = value[1];
    q->limit = -1;

    for (i = 2; i < cf->args->nelts; i++) {
        rv = ngx_booking_quota_option(cf, q, &value[i]);

        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (q->limit < 0 || q->per == 0) {
        return "needs count= or hours=, and per=";
    }

    return NGX_CONF_OK;
}


static char *
ngx_booking_quota_option(ngx_conf_t *cf, ngx_booking_quota_conf_t *q,
    ngx_str_t *opt)
{
    char                err[256];
    u_char             *eq, name[NGX_BOOKING_TZ_NAME_MAX + 1];
    ngx_int_t           n;
    ngx_str_t           key, val;
    ngx_pool_cleanup_t *cln;

    eq = ngx_strlchr(opt->data, opt->data + opt->len, '=');

    if (eq == NULL) {
        return "takes count=, hours=, per=, types=, groups= and tz=";
    }

    key.data = opt->data;
    key.len = eq - opt->data;
    val.data = eq + 1;
    val.len = opt->data + opt->len - val.data;

    if ((key.len == 5 && ngx_strncmp(key.data, "count", 5) == 0)
        || (key.len == 5 && ngx_strncmp(key.data, "hours", 5) == 0))
    {
        n = ngx_atoi(val.data, val.len);

        if (q->limit >= 0 || n < 1 || n > 1000000) {
            return "takes one of count= and hours=, from 1 to 1000000";
        }

        q->hours = (key.data[0] == 'h');
        q->limit = q->hours ? n * 3600 : n;
        return NGX_CONF_OK;
    }

    if (key.len == 3 && ngx_strncmp(key.data, "per", 3) == 0) {
        q->per = (val.len == 3 && ngx_strncmp(val.data, "day", 3) == 0)
                 ? NGX_BOOKING_PER_DAY
                 : (val.len == 4 && ngx_strncmp(val.data, "week", 4) == 0)
                 ? NGX_BOOKING_PER_WEEK
                 : (val.len == 5 && ngx_strncmp(val.data, "month", 5) == 0)
                 ? NGX_BOOKING_PER_MONTH : 0;

        return q->per ? NGX_CONF_OK : "takes per=day, per=week or per=month";
    }

    if (key.len == 5 && ngx_strncmp(key.data, "types", 5) == 0) {
        q->types = ngx_booking_conf_list(cf, &val);
        return q->types ? NGX_CONF_OK : "takes types=<type>,<type>...";
    }

    if (key.len == 6 && ngx_strncmp(key.data, "groups", 6) == 0) {
        q->groups = ngx_booking_conf_list(cf, &val);
        return q->groups ? NGX_CONF_OK : "takes groups=<group>,<group>...";
    }

    if (key.len == 2 && ngx_strncmp(key.data, "tz", 2) == 0) {
        if (q->tz != NULL || val.len == 0 || val.len > NGX_BOOKING_TZ_NAME_MAX)
        {
            return "takes one tz=<IANA time zone>";
        }

        q->tz = ngx_pcalloc(cf->pool, sizeof(ngx_booking_tz_t));
        cln = ngx_pool_cleanup_add(cf->pool, 0);

        if (q->tz == NULL || cln == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_cpystrn(name, val.data, val.len + 1);

        if (ngx_booking_tz_load(q->tz, (char *) name, err, sizeof(err))
            != NGX_BOOKING_OK)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"booking_quota\" directive: %s", err);
            return NGX_CONF_ERROR;
        }

        cln->handler = ngx_booking_tz_cleanup;
        cln->data = q->tz;

        return NGX_CONF_OK;
    }

    return "takes count=, hours=, per=, types=, groups= and tz=";
}


/* the names of types and quotas: a-z 0-9 _ - */
static ngx_int_t
ngx_booking_conf_name(ngx_str_t *name)
{
    ngx_uint_t  i;

    for (i = 0; i < name->len; i++) {
        if (!((name->data[i] >= 'a' && name->data[i] <= 'z')
              || (name->data[i] >= '0' && name->data[i] <= '9')
              || name->data[i] == '_' || name->data[i] == '-'))
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* a comma-separated list of names, none empty */
static ngx_array_t *
ngx_booking_conf_list(ngx_conf_t *cf, ngx_str_t *text)
{
    u_char       *p, *last, *comma;
    ngx_str_t    *s;
    ngx_array_t  *a;

    a = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    if (a == NULL) {
        return NULL;
    }

    p = text->data;
    last = text->data + text->len;

    while (p <= last) {
        comma = ngx_strlchr(p, last, ',');
        comma = comma ? comma : last;

        if (comma == p) {
            return NULL;
        }

        s = ngx_array_push(a);
        if (s == NULL) {
            return NULL;
        }

        s->data = p;
        s->len = comma - p;
        p = comma + 1;
    }

    return a;
}


/* every type a quota names is a booking_type */
static ngx_int_t
ngx_booking_quota_types(ngx_conf_t *cf, ngx_booking_ops_conf_t *ops)
{
    ngx_str_t                 *t;
    ngx_uint_t                 i, j;
    ngx_booking_quota_conf_t  *q;

    q = ops->quotas.elts;

    for (i = 0; i < ops->quotas.nelts; i++) {
        if (q[i].types == NULL) {
            continue;
        }

        t = q[i].types->elts;

        for (j = 0; j < q[i].types->nelts; j++) {
            if (ngx_booking_find_type(ops, t[j].data, t[j].len) == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"booking_quota\" directive: quota "
                                   "\"%V\" names type \"%V\", which no "
                                   "booking_type defines", &q[i].name, &t[j]);
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/* a type's zone, read from the system's tzdata now: opening hours' clock */
static char *
ngx_booking_type_tz(ngx_conf_t *cf, ngx_booking_type_t *t, ngx_str_t *v)
{
    char                 err[128];
    u_char               name[NGX_BOOKING_TZ_NAME_MAX + 1];
    ngx_pool_cleanup_t  *cln;

    if (v->len == 0 || v->len > NGX_BOOKING_TZ_NAME_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           NGX_BOOKING_TYPE_ERR
                           "invalid tz \"%V\" of type \"%V\"", v, &t->name);
        return NGX_CONF_ERROR;
    }

    t->tz = ngx_pcalloc(cf->pool, sizeof(ngx_booking_tz_t));
    cln = ngx_pool_cleanup_add(cf->pool, 0);

    if (t->tz == NULL || cln == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_cpystrn(name, v->data, v->len + 1);

    if (ngx_booking_tz_load(t->tz, (char *) name, err, sizeof(err))
        != NGX_BOOKING_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           NGX_BOOKING_TYPE_ERR "type \"%V\": %s",
                           &t->name, err);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_booking_tz_cleanup;
    cln->data = t->tz;

    return NGX_CONF_OK;
}


static void
ngx_booking_tz_cleanup(void *data)
{
    ngx_booking_tz_free(data);
}


static char *
ngx_booking_connections_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_uint_t  *np = data;

    if (*np < 1 || *np > 64) {
        return "must be 1 to 64";
    }

    return NGX_CONF_OK;
}


static char *
ngx_booking_database_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_int_t  *np = data;

    if (*np < 0 || *np > 65535) {
        return "must be 0 to 65535";
    }

    return NGX_CONF_OK;
}


static char *
ngx_booking_timeout_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t  *mp = data;

    if (*mp < 1 || *mp > 60000) {
        return "must be 1ms to 60s";
    }

    return NGX_CONF_OK;
}


/*
 * Without booking_secret_file, the token secret is drawn once and kept in
 * a small shared zone: a reload reuses the zone, so hold tokens outlive
 * it.  A restart or a binary upgrade draws a new one (the README says to
 * set a file in production).
 */
static ngx_int_t
ngx_booking_secret_zone(ngx_conf_t *cf, ngx_booking_main_conf_t *bmcf)
{
    ngx_shm_zone_t  *zone;
    static ngx_str_t  name = ngx_string("ngx_http_booking_secret");

    zone = ngx_shared_memory_add(cf, &name, 8 * ngx_pagesize,
                                 &ngx_http_booking_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_booking_secret_init;
    zone->data = bmcf;

    return NGX_OK;
}


/*
 * booking_events_maxlen is what all the streams keep together: each of
 * the NGX_BOOKING_SHARDS streams is trimmed to its share (MAXLEN ~).
 */
static ngx_int_t
ngx_booking_events_conf(ngx_conf_t *cf, ngx_booking_ops_conf_t *ops)
{
    ngx_conf_init_value(ops->events_on, 0);
    ngx_conf_init_value(ops->events_max, 1000000);

    if (!ops->events_on) {
        ngx_str_set(&ops->events, "");
        return NGX_OK;
    }

    ops->events.data = ngx_pnalloc(cf->pool, NGX_INT_T_LEN);
    if (ops->events.data == NULL) {
        return NGX_ERROR;
    }

    ops->events.len = ngx_sprintf(ops->events.data, "%i",
                                  (ops->events_max + NGX_BOOKING_SHARDS - 1)
                                  / NGX_BOOKING_SHARDS)
                      - ops->events.data;

    return NGX_OK;
}


/*
 * The counters of booking_status live in a zone of their own, which a
 * reload keeps: Prometheus sees a counter reset only when nginx restarts.
 */
static ngx_int_t
ngx_booking_metrics_zone(ngx_conf_t *cf)
{
    size_t            size;
    ngx_shm_zone_t   *zone;
    static ngx_str_t  name = ngx_string("ngx_http_booking_metrics");

    size = ngx_align(sizeof(ngx_booking_metrics_t), ngx_pagesize)
           + 8 * ngx_pagesize;

    zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_booking_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_booking_metrics_init;

    return NGX_OK;
}


static ngx_int_t
ngx_booking_metrics_init(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t        *shpool;
    ngx_booking_metrics_t  *m;

    if (data != NULL) {
        zone->data = data;
        ngx_booking_metrics = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        ngx_booking_metrics = shpool->data;
        return NGX_OK;
    }

    m = ngx_slab_calloc(shpool, sizeof(ngx_booking_metrics_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    shpool->data = m;
    zone->data = m;
    ngx_booking_metrics = m;

    return NGX_OK;
}


static ngx_int_t
ngx_booking_secret_init(ngx_shm_zone_t *zone, void *data)
{
    ngx_booking_main_conf_t  *old = data;

    u_char                   *p;
    ngx_slab_pool_t          *shpool;
    ngx_booking_main_conf_t  *bmcf;

    bmcf = zone->data;
    bmcf->ops.secret.len = NGX_BOOKING_SECRET_LEN;

    if (old != NULL) {
        bmcf->ops.secret.data = old->ops.secret.data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        bmcf->ops.secret.data = shpool->data;
        return NGX_OK;
    }

    p = ngx_slab_alloc(shpool, NGX_BOOKING_SECRET_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (RAND_bytes(p, NGX_BOOKING_SECRET_LEN) != 1) {
        ngx_log_error(NGX_LOG_EMERG, zone->shm.log, 0,
                      "booking: RAND_bytes() failed");
        return NGX_ERROR;
    }

    shpool->data = p;
    bmcf->ops.secret.data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_booking_init_process(ngx_cycle_t *cycle)
{
    ngx_booking_main_conf_t  *bmcf;

    if (!ngx_booking_used) {
        return NGX_OK;
    }

    bmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_booking_module);
    if (bmcf == NULL) {
        return NGX_OK;
    }

    ngx_booking_status_init_process(cycle);

    if (ngx_booking_store_init_process(cycle, &bmcf->store) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_booking_sweeper_init_process(cycle, &bmcf->ops);
}


static void
ngx_booking_exit_process(ngx_cycle_t *cycle)
{
    ngx_booking_status_exit_process();
    ngx_booking_auth_exit_process();
    ngx_booking_sweeper_exit_process();
    ngx_booking_store_exit_process(cycle);
}
