/*
 * idlc: one compilation. Reads the main file and its imports, checks
 * them, generates the outputs in memory, runs protoc-c on the .proto, and
 * moves every output into place only when all of them are ready.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "idlc-int.h"

extern char **environ;

/* Inputs larger than this are refused. */
#define IDLC_MAX_INPUT ((size_t) 64 << 20)

/* --- names derived from file names ---------------------------------------- */

static const char *
base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash != NULL ? slash + 1 : path;
}

/* "dir/calc.idl" -> "calc". */
const char *
idlc_file_stem(idlc_ctx *ctx, const idlc_source *src)
{
    const char *b = base_name(src->path);
    size_t n = strlen(b);

    if (n > 4 && strcmp(b + n - 4, ".idl") == 0)
        n -= 4;
    return idlc_strndup(&ctx->arena, b, n);
}

/*
 * How the outputs of an imported file are named from the importing
 * file's outputs: the import's own path with ".idl" dropped when it is a
 * plain relative path, else its stem.
 */
const char *
idlc_file_ref(idlc_ctx *ctx, const idlc_source *src)
{
    const char *n = src->import_name;
    size_t len;

    if (n == NULL || n[0] == '/' || strstr(n, "..") != NULL
        || strstr(n, "./") != NULL || strstr(n, "//") != NULL
        || strchr(n, '\\') != NULL)
        return idlc_file_stem(ctx, src);
    len = strlen(n);
    if (len > 4 && strcmp(n + len - 4, ".idl") == 0)
        len -= 4;
    return idlc_strndup(&ctx->arena, n, len);
}

/*
 * A file's stem made an identifier (for the .proto package and the
 * header guard): each character but a letter, digit or '_' becomes '_',
 * and a stem that starts with no letter ("1st", "_x", "%") gets "idl_"
 * in front: protoc-c drops a package's leading '_', and a C name cannot
 * start with a digit.
 */
const char *
idlc_file_ident(idlc_ctx *ctx, const idlc_source *src)
{
    char *p = idlc_printf(&ctx->arena, "%s", idlc_file_stem(ctx, src));

    for (char *q = p; *q != '\0'; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')
              || (*q >= '0' && *q <= '9') || *q == '_'))
            *q = '_';
    if (!((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z')))
        p = idlc_printf(&ctx->arena, "idl_%s", p);
    return p;
}

/* The .proto package of a file. */
const char *
idlc_proto_package(idlc_ctx *ctx, const idlc_source *src)
{
    return idlc_file_ident(ctx, src);
}

/* protoc-c's lower-case form of a proto name ("calc_Point" -> "calc__point"). */
const char *
idlc_proto_lower(idlc_ctx *ctx, const char *name)
{
    idlc_buf b = { NULL, 0, 0 };
    char *r;

    for (size_t i = 0; name[i] != '\0'; i++) {
        char c = name[i];

        if (c >= 'A' && c <= 'Z') {
            if (i > 0 && !(name[i - 1] >= 'A' && name[i - 1] <= 'Z'))
                idlc_buf_add(&b, "_", 1);
            c = (char) (c - 'A' + 'a');
        }
        idlc_buf_add(&b, &c, 1);
    }
    r = idlc_strdup(&ctx->arena, b.data != NULL ? b.data : "");
    idlc_buf_free(&b);
    return r;
}

/* --- reading files -------------------------------------------------------- */

static char *
read_file(const char *path, size_t *ret_len, int *ret_errno)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t len = 0, cap = 0;
    struct stat st;

    if (f == NULL) {
        *ret_errno = errno;
        return NULL;
    }
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        *ret_errno = EISDIR;
        return NULL;
    }
    for (;;) {
        size_t n;

        if (cap - len < 65536) {
            char *p;

            cap = cap != 0 ? cap * 2 : 65536;
            if (cap > IDLC_MAX_INPUT + 65536) {
                free(data);
                fclose(f);
                *ret_errno = EFBIG;
                return NULL;
            }
            p = realloc(data, cap + 1);
            if (p == NULL) {
                free(data);
                fclose(f);
                *ret_errno = ENOMEM;
                return NULL;
            }
            data = p;
        }
        n = fread(data + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        *ret_errno = EIO;
        free(data);
        fclose(f);
        return NULL;
    }
    fclose(f);
    if (len > IDLC_MAX_INPUT) {
        free(data);
        *ret_errno = EFBIG;
        return NULL;
    }
    data[len] = '\0';
    *ret_len = len;
    return data;
}

static idlc_source *
new_source(idlc_ctx *ctx, const char *path, char *data, size_t len)
{
    idlc_source *s = idlc_alloc(&ctx->arena, sizeof *s);
    size_t skip = 0;

    s->path = idlc_strdup(&ctx->arena, path);
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        skip = 3;
    s->text = idlc_strndup(&ctx->arena, data + skip, len - skip);
    s->len = len - skip;
    if (ctx->n_sources == ctx->cap_sources) {
        size_t cap = ctx->cap_sources != 0 ? ctx->cap_sources * 2 : 8;
        idlc_source **v = idlc_alloc(&ctx->arena, cap * sizeof *v);

        if (ctx->n_sources > 0)
            memcpy(v, ctx->sources, ctx->n_sources * sizeof *v);
        ctx->sources = v;
        ctx->cap_sources = cap;
    }
    s->index = (int) ctx->n_sources;
    ctx->sources[ctx->n_sources++] = s;
    return s;
}

static idlc_source *
find_loaded(idlc_ctx *ctx, const char *real)
{
    for (size_t i = 0; i < ctx->n_sources; i++) {
        char buf[PATH_MAX];

        if (realpath(ctx->sources[i]->path, buf) != NULL
            && strcmp(buf, real) == 0)
            return ctx->sources[i];
    }
    return NULL;
}

static void parse_file(idlc_ctx *ctx, idlc_source *src);

/* Finds, reads and parses the file named by @imp of @from. */
static void
load_import(idlc_ctx *ctx, idlc_source *from, idlc_import *imp)
{
    const char *slash = strrchr(from->path, '/');
    char *dir = slash != NULL
        ? idlc_strndup(&ctx->arena, from->path,
                       (size_t) (slash - from->path))
        : NULL;
    char real[PATH_MAX];
    char *found = NULL;
    idlc_source *src;

    if (imp->name[0] == '\0') {
        idlc_error(ctx, imp->loc, "empty import path");
        return;
    }
    if (imp->name[0] == '/') {
        if (access(imp->name, R_OK) == 0)
            found = imp->name;
    } else {
        char *cand = dir != NULL
            ? idlc_printf(&ctx->arena, "%s/%s", dir, imp->name) : imp->name;

        if (access(cand, R_OK) == 0)
            found = cand;
        for (size_t i = 0; found == NULL
             && i < ctx->opts->n_include_dirs; i++) {
            cand = idlc_printf(&ctx->arena, "%s/%s",
                               ctx->opts->include_dirs[i], imp->name);
            if (access(cand, R_OK) == 0)
                found = cand;
        }
    }
    if (found == NULL || realpath(found, real) == NULL) {
        idlc_error(ctx, imp->loc, "cannot find imported file '%s'%s",
                   imp->name, ctx->opts->n_include_dirs == 0
                   ? " (no -I folders given)" : " in any -I folder");
        return;
    }
    src = find_loaded(ctx, real);
    if (src != NULL) {
        if (src->in_progress) {
            idlc_buf chain = { NULL, 0, 0 };
            int from_here = 0;

            /* The cycle: from the file's place on the stack to here. */
            for (int i = 0; i < ctx->stack_len; i++)
                if (ctx->stack[i] == src)
                    from_here = i;
            for (int i = from_here; i < ctx->stack_len; i++)
                idlc_buf_printf(&chain, "'%s' -> ", ctx->stack[i]->path);
            idlc_buf_printf(&chain, "'%s'", src->path);
            idlc_error(ctx, imp->loc, "import cycle: %s", chain.data);
            idlc_buf_free(&chain);
            return;
        }
        imp->src = src;
        return;
    }
    {
        size_t len = 0;
        int err = 0;
        char *data = read_file(found, &len, &err);

        if (data == NULL) {
            idlc_error(ctx, imp->loc, "cannot read '%s': %s", found,
                       strerror(err));
            return;
        }
        src = new_source(ctx, found, data, len);
        free(data);
    }
    src->import_name = imp->name;
    src->importer = from;
    src->import_line = imp->loc.line;
    imp->src = src;
    parse_file(ctx, src);
}

static void
parse_file(idlc_ctx *ctx, idlc_source *src)
{
    idlc_import *rev = NULL;

    if (ctx->stack_len >= IDLC_MAX_DEPTH) {
        idlc_error_plain(ctx, "imports nested too deeply at '%s' (the "
                         "limit is %d levels)", src->path, IDLC_MAX_DEPTH);
        ctx->fatal = true;
        return;
    }
    ctx->stack[ctx->stack_len++] = src;
    src->in_progress = true;
    ctx->cur = src;
    idlc_parse_source(ctx);
    src->blocks = ctx->parsed_blocks;
    for (idlc_import *i = ctx->parsed_imports, *next; i != NULL; i = next) {
        next = i->next;
        i->next = rev;
        rev = i;
    }
    src->imports = rev;
    src->parsed = true;
    for (idlc_import *i = src->imports; i != NULL && !ctx->fatal; i = i->next)
        load_import(ctx, src, i);
    src->in_progress = false;
    ctx->stack_len--;
}

/* --- writing outputs -------------------------------------------------------- */

static int
write_all(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0)
        return -1;
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            return -1;
        }
        data += n;
        len -= (size_t) n;
    }
    return close(fd);
}

static void
remove_tree(const char *dir, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] != NULL)
            unlink(names[i]);
    rmdir(dir);
}

/* Writes @text as @rel under @dir, making folders as needed. */
static int
write_under(idlc_ctx *ctx, const char *dir, const char *rel,
            const char *text, size_t len, const char **ret_path)
{
    char *path = idlc_printf(&ctx->arena, "%s/%s", dir, rel);

    for (char *p = path + strlen(dir) + 1; *p != '\0'; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    *ret_path = path;
    return write_all(path, text, len);
}

/*
 * Makes the output folder @dir and its missing parents, as `mkdir -p`
 * does (mode 0777 less the umask). The folders made are listed in
 * *@ret_made, outermost first (*@ret_n of them), for unmake_dirs().
 */
static bool
make_dirs(idlc_ctx *ctx, const char *dir, char ***ret_made, size_t *ret_n)
{
    char *path = idlc_strdup(&ctx->arena, dir);
    size_t max = 1;
    char **made;
    struct stat st;
    int err = 0;

    *ret_n = 0;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return true;
    for (const char *p = dir; *p != '\0'; p++)
        max += *p == '/';
    made = idlc_alloc(&ctx->arena, max * sizeof *made);
    *ret_made = made;
    if (dir[0] == '\0')
        err = ENOENT;
    /* Each prefix ending before a slash, then the whole path. */
    for (char *p = path + 1; err == 0; p++) {
        char c = *p;

        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        if (p[-1] == '/') {
            /* "a//b" or a trailing slash: nothing to make. */
        } else if (mkdir(path, 0777) == 0) {
            if (*ret_n < max)
                made[(*ret_n)++] = idlc_strdup(&ctx->arena, path);
        } else {
            int e = errno;

            /* Already there (EEXIST, or EACCES on some systems)? */
            if (stat(path, &st) != 0)
                err = e;
            else if (!S_ISDIR(st.st_mode))
                err = ENOTDIR;
        }
        *p = c;
        if (c == '\0')
            break;
    }
    if (err != 0) {
        idlc_error_plain(ctx, "cannot make the output folder '%s': %s", dir,
                         strerror(err));
        return false;
    }
    return true;
}

/* Removes the folders make_dirs() made, innermost first, if empty. */
static void
unmake_dirs(char **made, size_t n)
{
    while (n > 0)
        rmdir(made[--n]);
}

/* Runs protoc-c; its messages go to the diagnostics on failure. */
static bool
run_protoc_c(idlc_ctx *ctx, const char *tmp, const char *proto)
{
    const char *prog = ctx->opts->protoc_c;
    char *log = idlc_printf(&ctx->arena, "%s/protoc-c.log", tmp);
    char *arg_path = idlc_printf(&ctx->arena, "--proto_path=%s", tmp);
    char *arg_out = idlc_printf(&ctx->arena, "--c_out=%s", tmp);
    char *argv[] = { (char *) prog, arg_path, arg_out, (char *) proto, NULL };
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status = 0, rc;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT
                                     | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    rc = strchr(prog, '/') != NULL
        ? posix_spawn(&pid, prog, &fa, NULL, argv, environ)
        : posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        idlc_error_plain(ctx, "cannot run protoc-c '%s': %s (set "
                         "--protoc-c=PATH or $PROTOC_C)", prog,
                         strerror(rc));
        unlink(log);
        return false;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        size_t len = 0;
        int err = 0;
        char *out = read_file(log, &len, &err);

        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
            idlc_error_plain(ctx, "cannot run protoc-c '%s' (set "
                             "--protoc-c=PATH or $PROTOC_C)", prog);
        else
            idlc_error_plain(ctx, "protoc-c '%s' failed on %s:", prog,
                             proto);
        if (out != NULL) {
            idlc_diag_text(ctx, out);
            free(out);
        }
        unlink(log);
        return false;
    }
    unlink(log);
    return true;
}

void
idlc_collect_imports(idlc_source *src, idlc_source **out, size_t *n,
                     size_t max)
{
    for (size_t i = 0; i < *n; i++)
        if (out[i] == src)
            return;
    for (idlc_import *imp = src->imports; imp != NULL; imp = imp->next)
        if (imp->src != NULL)
            idlc_collect_imports(imp->src, out, n, max);
    if (*n < max)
        out[(*n)++] = src;
}

static void
write_deps(idlc_ctx *ctx, const char *outdir, const char *stem)
{
    FILE *out = ctx->opts->out != NULL ? ctx->opts->out : stdout;
    static const char *const exts[] = {
        ".epy.h", ".epy.c", ".proto", ".pb-c.h", ".pb-c.c"
    };
    const char *prefix = outdir != NULL
        ? idlc_printf(&ctx->arena, "%s/", outdir) : "";

    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        if (ctx->opts->protoc_c == NULL && i >= 3)
            break;
        fprintf(out, "%s%s%s%s", i > 0 ? " " : "", prefix, stem, exts[i]);
    }
    fputs(":", out);
    for (size_t i = 0; i < ctx->n_sources; i++)
        fprintf(out, " %s", ctx->sources[i]->path);
    fputs("\n", out);
    for (size_t i = 1; i < ctx->n_sources; i++)
        fprintf(out, "\n%s:\n", ctx->sources[i]->path);
}

static void
generate(idlc_ctx *ctx)
{
    const char *outdir = ctx->opts->out_dir != NULL ? ctx->opts->out_dir
                                                    : ".";
    const char *stem = idlc_file_stem(ctx, ctx->sources[0]);
    char *tmp = idlc_printf(&ctx->arena, "%s/.idlc-XXXXXX", outdir);
    idlc_buf text[3] = {
        { NULL, 0, 0 }, { NULL, 0, 0 }, { NULL, 0, 0 }
    };
    const char *exts[5] = { ".proto", ".epy.h", ".epy.c", ".pb-c.h",
                            ".pb-c.c" };
    const char *tmpnames[64] = { NULL };
    size_t n_tmp = 0;
    idlc_source **all;
    size_t n_all = 0;
    bool ok = true;
    size_t n_out = ctx->opts->protoc_c != NULL ? 5 : 3;
    char **made = NULL;
    size_t n_made = 0;

    idlc_emit_proto(ctx, ctx->sources[0], &text[0]);
    idlc_emit_header(ctx, &text[1]);
    idlc_emit_source(ctx, &text[2]);
    if (ctx->errors > 0)
        goto done;
    if (!make_dirs(ctx, outdir, &made, &n_made))
        goto done;
    if (mkdtemp(tmp) == NULL) {
        idlc_error_plain(ctx, "cannot make a temporary folder in '%s': %s",
                         outdir, strerror(errno));
        goto done;
    }
    for (int i = 0; i < 3; i++) {
        const char *rel = idlc_printf(&ctx->arena, "%s%s", stem, exts[i]);

        if (write_under(ctx, tmp, rel, text[i].data != NULL ? text[i].data
                        : "", text[i].len, &tmpnames[n_tmp++]) != 0) {
            idlc_error_plain(ctx, "cannot write '%s/%s': %s", tmp, rel,
                             strerror(errno));
            ok = false;
            break;
        }
    }
    if (ok && ctx->opts->protoc_c != NULL) {
        /* protoc-c needs the imported files' .proto beside this one. */
        all = idlc_alloc(&ctx->arena, ctx->n_sources * sizeof *all);
        idlc_collect_imports(ctx->sources[0], all, &n_all, ctx->n_sources);
        for (size_t i = 0; ok && i + 1 < n_all && n_tmp < 60; i++) {
            idlc_buf p = { NULL, 0, 0 };
            const char *rel = idlc_printf(&ctx->arena, "%s.proto",
                                          idlc_file_ref(ctx, all[i]));

            idlc_emit_proto(ctx, all[i], &p);
            if (write_under(ctx, tmp, rel, p.data != NULL ? p.data : "",
                            p.len, &tmpnames[n_tmp++]) != 0) {
                idlc_error_plain(ctx, "cannot write '%s/%s': %s", tmp, rel,
                                 strerror(errno));
                ok = false;
            }
            idlc_buf_free(&p);
        }
        if (ok)
            ok = run_protoc_c(ctx, tmp, idlc_printf(&ctx->arena, "%s.proto",
                                                    stem));
        if (ok) {
            tmpnames[n_tmp++] = idlc_printf(&ctx->arena, "%s/%s.pb-c.h",
                                            tmp, stem);
            tmpnames[n_tmp++] = idlc_printf(&ctx->arena, "%s/%s.pb-c.c",
                                            tmp, stem);
        }
    }
    if (ok) {
        for (size_t i = 0; i < n_out; i++) {
            char *from = idlc_printf(&ctx->arena, "%s/%s%s", tmp, stem,
                                     exts[i]);
            char *to = idlc_printf(&ctx->arena, "%s/%s%s", outdir, stem,
                                   exts[i]);

            if (rename(from, to) != 0) {
                idlc_error_plain(ctx, "cannot write '%s': %s", to,
                                 strerror(errno));
                /* Leave nothing half-done behind. */
                for (size_t j = 0; j < i; j++)
                    unlink(idlc_printf(&ctx->arena, "%s/%s%s", outdir, stem,
                                       exts[j]));
                break;
            }
        }
    }
    /* Remove what is left in the temporary folder, folders included. */
    remove_tree(tmp, tmpnames, n_tmp);
    for (size_t i = n_tmp; i-- > 0;) {
        char *d = idlc_strdup(&ctx->arena, tmpnames[i]);
        char *slash;

        while ((slash = strrchr(d, '/')) != NULL && strlen(d) > strlen(tmp)) {
            *slash = '\0';
            if (strlen(d) > strlen(tmp))
                rmdir(d);
        }
    }
    rmdir(tmp);
done:
    /* On failure, leave no output folder behind either. */
    if (ctx->errors > 0 || ctx->fatal)
        unmake_dirs(made, n_made);
    for (int i = 0; i < 3; i++)
        idlc_buf_free(&text[i]);
}

bool
idlc_load(idlc_ctx *ctx, const idlc_options *opts, const char *path)
{
    size_t len = 0;
    int err = 0;
    char *data;

    memset(ctx, 0, sizeof *ctx);
    ctx->opts = opts;
    ctx->diag = opts->diag != NULL ? opts->diag : stderr;
    ctx->max_errors = opts->max_errors > 0 ? opts->max_errors : 20;
    data = read_file(path, &len, &err);
    if (data == NULL) {
        idlc_error_plain(ctx, "cannot read '%s': %s", path,
                         err == EFBIG ? "file too large (the limit is "
                         "64 MiB)" : strerror(err));
        return false;
    }
    new_source(ctx, path, data, len);
    free(data);
    parse_file(ctx, ctx->sources[0]);
    if (!ctx->fatal && ctx->errors == 0)
        idlc_sema(ctx);
    return ctx->errors == 0 && !ctx->fatal;
}

void
idlc_unload(idlc_ctx *ctx)
{
    idlc_buf_free(&ctx->doc);
    idlc_arena_free(ctx->arena);
    ctx->arena = NULL;
}

int
idlc_compile(const idlc_options *opts)
{
    idlc_ctx ctx;
    int status;

    if (idlc_load(&ctx, opts, opts->input)) {
        if (opts->deps)
            write_deps(&ctx, opts->out_dir, idlc_file_stem(&ctx,
                                                           ctx.sources[0]));
        else
            generate(&ctx);
    }
    status = ctx.errors > 0 || ctx.fatal ? 1 : 0;
    idlc_unload(&ctx);
    return status;
}
