/*
 * idlc: the grammar. Pure, with locations; it only builds the syntax
 * tree (idlc-int.h). Names and types are checked later, in sema.c.
 *
 * Every semantic value lives in the compilation's arena, which is freed
 * as a whole: values dropped by error recovery need no %destructor.
 */
%define api.pure full
%define api.prefix {idlc_yy}
%locations
%define parse.error custom
%param {yyscan_t scanner}
%parse-param {idlc_ctx *ctx}
%expect 0

%code top {
#include <config.h>
}

%code requires {
#include "idlc-int.h"

#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

/*
 * Locations also carry the `///` text that preceded the token, and the
 * number of the (last) token (for trailing docs, see idlc_ctx).
 */
typedef struct idlc_yyltype {
    int first_line;
    int first_column;
    int last_line;
    int last_column;
    const char *doc;
    int tok;
} idlc_yyltype;
#define IDLC_YYLTYPE idlc_yyltype
#define IDLC_YYLTYPE_IS_DECLARED 1
#define IDLC_YYLTYPE_IS_TRIVIAL 0

/* Linked lists under construction: first and last node. */
typedef struct idlc_list {
    void *head;
    void *tail;
} idlc_list;

/*
 * A dotted name under construction. It grows in place (doubling @cap), so
 * that a name of n parts costs O(n), not O(n^2); @cap is 0 while @str is
 * the first identifier itself.
 */
typedef struct idlc_qname {
    char *str;
    size_t len;
    size_t cap;
    int parts;
} idlc_qname;
}

%code provides {
int idlc_yylex(IDLC_YYSTYPE *lval, IDLC_YYLTYPE *lloc, yyscan_t scanner);
int idlc_yyparse(yyscan_t scanner, idlc_ctx *ctx);
}

%code {
#include <inttypes.h>
#include <string.h>

#define YYLLOC_DEFAULT(cur, rhs, n)                                      \
    do {                                                                 \
        if (n) {                                                         \
            (cur).first_line = YYRHSLOC(rhs, 1).first_line;              \
            (cur).first_column = YYRHSLOC(rhs, 1).first_column;          \
            (cur).last_line = YYRHSLOC(rhs, n).last_line;                \
            (cur).last_column = YYRHSLOC(rhs, n).last_column;            \
            (cur).doc = YYRHSLOC(rhs, 1).doc;                            \
            (cur).tok = YYRHSLOC(rhs, n).tok;                            \
        } else {                                                         \
            (cur).first_line = (cur).last_line = YYRHSLOC(rhs, 0).last_line; \
            (cur).first_column = (cur).last_column =                     \
                YYRHSLOC(rhs, 0).last_column;                            \
            (cur).doc = NULL;                                            \
            (cur).tok = YYRHSLOC(rhs, 0).tok;                            \
        }                                                                \
    } while (0)

static void
idlc_yyerror(const IDLC_YYLTYPE *l, yyscan_t scanner, idlc_ctx *ctx,
             const char *msg)
{
    idlc_loc loc = { ctx->cur, l->first_line, l->first_column };

    (void) scanner;
    idlc_error(ctx, loc, "%s", msg);
}

static idlc_loc
mkloc(idlc_ctx *ctx, const IDLC_YYLTYPE *l)
{
    idlc_loc loc = { ctx->cur, l->first_line, l->first_column };

    return loc;
}

#define LOC(l) mkloc(ctx, &(l))
#define NEW(T) ((T *) idlc_alloc(&ctx->arena, sizeof(T)))
#define DOC(l) ((l).doc != NULL ? idlc_strdup(&ctx->arena, (l).doc) : NULL)

/* Appends @node (whose first member after the payload is `next`). */
#define APPEND(list, node, T)                                            \
    do {                                                                 \
        T *n_ = (node);                                                  \
        if ((list).tail != NULL)                                         \
            ((T *) (list).tail)->next = n_;                              \
        else                                                             \
            (list).head = n_;                                            \
        (list).tail = n_;                                                \
    } while (0)

static idlc_type *
mktype(idlc_ctx *ctx, idlc_tkind kind, const IDLC_YYLTYPE *l)
{
    idlc_type *t = idlc_alloc(&ctx->arena, sizeof *t);

    t->kind = kind;
    t->loc = mkloc(ctx, l);
    return t;
}

static idlc_decl *
mkdecl(idlc_ctx *ctx, idlc_dkind kind, char *name, const IDLC_YYLTYPE *kw,
       const IDLC_YYLTYPE *nl)
{
    idlc_decl *d = idlc_alloc(&ctx->arena, sizeof *d);

    d->kind = kind;
    d->name = name;
    d->loc = mkloc(ctx, nl);
    d->doc = kw->doc != NULL ? idlc_strdup(&ctx->arena, kw->doc) : NULL;
    d->src = ctx->cur;
    return d;
}

static idlc_member *
mkmember(idlc_ctx *ctx, idlc_mkind kind, const IDLC_YYLTYPE *l)
{
    idlc_member *m = idlc_alloc(&ctx->arena, sizeof *m);

    m->kind = kind;
    m->loc = mkloc(ctx, l);
    return m;
}

static idlc_qname
qname_start(char *id)
{
    idlc_qname q = { id, strlen(id), 0, 1 };

    return q;
}

static idlc_qname
qname_add(idlc_ctx *ctx, idlc_qname q, const char *id)
{
    size_t n = strlen(id);

    if (q.cap == 0 || q.len + n + 2 > q.cap) {
        size_t cap = q.cap != 0 ? q.cap : 64;
        char *p;

        while (cap < q.len + n + 2)
            cap *= 2;
        p = idlc_alloc(&ctx->arena, cap);
        memcpy(p, q.str, q.len);
        q.str = p;
        q.cap = cap;
    }
    q.str[q.len++] = '.';
    memcpy(q.str + q.len, id, n + 1);
    q.len += n;
    q.parts++;
    return q;
}

/*
 * Checks the depth of a namespace name's first @parts parts, as each is
 * read: a name of many thousand parts fails at the first one too deep.
 */
static bool
ns_fits(idlc_ctx *ctx, int parts, const IDLC_YYLTYPE *l)
{
    if (ctx->ns_depth + parts <= IDLC_MAX_DEPTH)
        return true;
    idlc_error(ctx, mkloc(ctx, l), "namespaces nested too deeply (the "
               "limit is %d levels)", IDLC_MAX_DEPTH);
    ctx->fatal = true;
    return false;
}
}

%initial-action {
    @$.first_line = @$.last_line = 1;
    @$.first_column = @$.last_column = 1;
    @$.doc = NULL;
    @$.tok = 0;
}

%union {
    char *str;
    int kind;
    idlc_num num;
    idlc_type *type;
    idlc_field *field;
    idlc_enumval *eval;
    idlc_opt *opt;
    idlc_raise *raise;
    idlc_member *member;
    idlc_block *block;
    idlc_decl *decl;
    idlc_list list;
    idlc_qname qn;
}

%token <str> IDENT "identifier"
%token <str> STRING "string"
%token <num> INTLIT "number"
%token <kind> KW_TYPE "type name"
%token KW_NAMESPACE "'namespace'"
%token KW_DEFAULTS "'defaults'"
%token KW_IMPORT "'import'"
%token KW_STRUCT "'struct'"
%token KW_ENUM "'enum'"
%token KW_ERROR "'error'"
%token KW_EVENT "'event'"
%token KW_RAISES "'raises'"
%token KW_VOID "'void'"
%token KW_LIST "'list'"
%token KW_OPTIONAL "'optional'"
%token KW_MAP "'map'"

%type <qn> qname nsname
%type <type> type
%type <block> block
%type <member> member
%type <decl> decl
%type <opt> dentry defaults
%type <num> optnum
%type <field> field param
%type <eval> eval
%type <list> members fields evals params plist raises rlist mopts olist
%type <list> dentries

%%

file:
      %empty
    | file item
    ;

item:
      KW_IMPORT STRING ';'
        {
            idlc_import *imp = NEW(idlc_import);

            imp->name = $2;
            imp->loc = LOC(@2);
            imp->next = ctx->parsed_imports;
            ctx->parsed_imports = imp;
        }
    | block
        {
            $1->next = ctx->parsed_blocks;
            ctx->parsed_blocks = $1;
        }
    | decl
        {
            idlc_error(ctx, $1->loc, "'%s' is declared outside any "
                       "namespace", $1->name);
        }
    | defaults
        {
            idlc_error(ctx, LOC(@1), "'defaults' outside any namespace");
        }
    | error ';'
    | error '}'
    ;

block:
      KW_NAMESPACE nsname '{'
        { ctx->ns_depth += $2.parts; }
      members '}'
        {
            ctx->ns_depth -= $2.parts;
            $$ = NEW(idlc_block);
            $$->name = $2.str;
            $$->loc = LOC(@1);
            $$->name_loc = LOC(@2);
            $$->doc = DOC(@1);
            $$->members = $5.head;
            idlc_doc_target(ctx, @6.tok, @3.tok, &$$->doc);
        }
    ;

/* A namespace's name: its depth is checked part by part. */
nsname:
      IDENT
        {
            $$ = qname_start($1);
            if (!ns_fits(ctx, $$.parts, &@1))
                YYABORT;
        }
    | nsname '.' IDENT
        {
            $$ = qname_add(ctx, $1, $3);
            if (!ns_fits(ctx, $$.parts, &@3))
                YYABORT;
        }
    ;

qname:
      IDENT                 { $$ = qname_start($1); }
    | qname '.' IDENT       { $$ = qname_add(ctx, $1, $3); }
    ;

members:
      %empty                { $$.head = $$.tail = NULL; }
    | members member
        {
            $$ = $1;
            if ($2 != NULL)
                APPEND($$, $2, idlc_member);
        }
    ;

member:
      block
        {
            $$ = mkmember(ctx, MK_BLOCK, &@1);
            $$->block = $1;
        }
    | decl
        {
            $$ = mkmember(ctx, MK_DECL, &@1);
            $$->decl = $1;
        }
    | defaults
        {
            $$ = mkmember(ctx, MK_DEFAULTS, &@1);
            $$->opts = $1;
        }
    | KW_IMPORT STRING ';'
        {
            idlc_error(ctx, LOC(@1), "'import' must be at file level, "
                       "not inside a namespace");
            $$ = NULL;
        }
    | error ';'             { $$ = NULL; }
    ;

defaults:
      KW_DEFAULTS '{' dentries '}'
        { $$ = $3.head; }
    ;

dentries:
      %empty                { $$.head = $$.tail = NULL; }
    | dentries dentry ';'
        {
            $$ = $1;
            APPEND($$, $2, idlc_opt);
        }
    | dentries error ';'    { $$ = $1; }
    ;

dentry:
      IDENT
        {
            $$ = NEW(idlc_opt);
            $$->name = $1;
            $$->loc = LOC(@1);
        }
    | IDENT '=' optnum
        {
            $$ = NEW(idlc_opt);
            $$->name = $1;
            $$->loc = LOC(@1);
            $$->has_value = true;
            $$->num = $3;
            $$->value_loc = LOC(@3);
        }
    | IDENT '=' IDENT
        {
            $$ = NEW(idlc_opt);
            $$->name = $1;
            $$->loc = LOC(@1);
            $$->has_value = true;
            $$->value_is_word = true;
            $$->word = $3;
            $$->value_loc = LOC(@3);
        }
    ;

optnum:
      INTLIT
    | '-' INTLIT
        {
            $$ = $2;
            $$.overflow = true;     /* negative: reported as out of range */
        }
    ;

decl:
      KW_ENUM IDENT '{' evals '}'
        {
            $$ = mkdecl(ctx, DK_ENUM, $2, &@1, &@2);
            $$->values = $4.head;
            idlc_doc_target(ctx, @5.tok, @3.tok, &$$->doc);
        }
    | KW_STRUCT IDENT '{' fields '}'
        {
            $$ = mkdecl(ctx, DK_STRUCT, $2, &@1, &@2);
            $$->fields = $4.head;
            idlc_doc_target(ctx, @5.tok, @3.tok, &$$->doc);
        }
    | KW_ERROR IDENT '{' fields '}'
        {
            $$ = mkdecl(ctx, DK_ERROR, $2, &@1, &@2);
            $$->fields = $4.head;
            idlc_doc_target(ctx, @5.tok, @3.tok, &$$->doc);
        }
    | type IDENT '(' params ')' raises mopts ';'
        {
            $$ = mkdecl(ctx, DK_METHOD, $2, &@1, &@2);
            $$->result = $1;
            $$->fields = $4.head;
            $$->raises = $6.head;
            $$->has_raises = $6.head != NULL;
            $$->raises_loc = LOC(@6);
            $$->opts = $7.head;
            idlc_doc_target(ctx, @8.tok, 0, &$$->doc);
        }
    | KW_EVENT IDENT '(' params ')' raises mopts ';'
        {
            $$ = mkdecl(ctx, DK_EVENT, $2, &@1, &@2);
            $$->result = mktype(ctx, TK_VOID, &@1);
            $$->fields = $4.head;
            $$->raises = $6.head;
            $$->has_raises = $6.head != NULL;
            $$->raises_loc = LOC(@6);
            $$->opts = $7.head;
            idlc_doc_target(ctx, @8.tok, 0, &$$->doc);
        }
    ;

evals:
      %empty                { $$.head = $$.tail = NULL; }
    | evals eval
        {
            $$ = $1;
            if ($2 != NULL)
                APPEND($$, $2, idlc_enumval);
        }
    ;

eval:
      IDENT '=' INTLIT ';'
        {
            $$ = NEW(idlc_enumval);
            $$->name = $1;
            $$->loc = LOC(@1);
            $$->doc = DOC(@1);
            $$->value = (int64_t) ($3.value & INT64_MAX);
            $$->overflow = $3.overflow || $3.value > INT32_MAX;
            if ($3.suffix[0] != '\0') {
                idlc_error(ctx, LOC(@3), "invalid number '%" PRIu64 "%s'",
                           $3.value, $3.suffix);
                $$->overflow = false;
            }
            idlc_doc_target(ctx, @4.tok, 0, &$$->doc);
        }
    | IDENT '=' '-' INTLIT ';'
        {
            $$ = NEW(idlc_enumval);
            $$->name = $1;
            $$->loc = LOC(@1);
            $$->doc = DOC(@1);
            $$->overflow = $4.overflow || $4.value > (uint64_t) INT32_MAX + 1;
            $$->value = $$->overflow ? 0 : -(int64_t) $4.value;
            if ($4.suffix[0] != '\0') {
                idlc_error(ctx, LOC(@4), "invalid number '%" PRIu64 "%s'",
                           $4.value, $4.suffix);
                $$->overflow = false;
            }
            idlc_doc_target(ctx, @5.tok, 0, &$$->doc);
        }
    | IDENT ';'
        {
            idlc_error(ctx, LOC(@1), "enum value '%s' needs an explicit "
                       "number ('%s = N;')", $1, $1);
            $$ = NULL;
        }
    | error ';'             { $$ = NULL; }
    ;

fields:
      %empty                { $$.head = $$.tail = NULL; }
    | fields field
        {
            $$ = $1;
            if ($2 != NULL)
                APPEND($$, $2, idlc_field);
        }
    ;

field:
      type IDENT ';'
        {
            $$ = NEW(idlc_field);
            $$->type = $1;
            $$->name = $2;
            $$->loc = LOC(@2);
            $$->doc = DOC(@1);
            idlc_doc_target(ctx, @3.tok, 0, &$$->doc);
        }
    | type IDENT '=' INTLIT ';'
        {
            $$ = NEW(idlc_field);
            $$->type = $1;
            $$->name = $2;
            $$->loc = LOC(@2);
            $$->doc = DOC(@1);
            $$->pinned = true;
            $$->pin = $4.value;
            $$->pin_overflow = $4.overflow;
            $$->pin_loc = LOC(@4);
            if ($4.suffix[0] != '\0')
                idlc_error(ctx, LOC(@4), "invalid number '%" PRIu64 "%s'",
                           $4.value, $4.suffix);
            idlc_doc_target(ctx, @5.tok, 0, &$$->doc);
        }
    | error ';'             { $$ = NULL; }
    ;

params:
      %empty                { $$.head = $$.tail = NULL; }
    | plist
    ;

plist:
      param
        {
            $$.head = $$.tail = NULL;
            APPEND($$, $1, idlc_field);
        }
    | plist ',' param
        {
            $$ = $1;
            APPEND($$, $3, idlc_field);
        }
    ;

param:
      type IDENT
        {
            $$ = NEW(idlc_field);
            $$->type = $1;
            $$->name = $2;
            $$->loc = LOC(@2);
        }
    ;

raises:
      %empty                { $$.head = $$.tail = NULL; }
    | KW_RAISES '(' rlist ')'
        { $$ = $3; }
    ;

rlist:
      qname
        {
            idlc_raise *r = NEW(idlc_raise);

            r->name = $1.str;
            r->loc = LOC(@1);
            $$.head = $$.tail = NULL;
            APPEND($$, r, idlc_raise);
        }
    | rlist ',' qname
        {
            idlc_raise *r = NEW(idlc_raise);

            r->name = $3.str;
            r->loc = LOC(@3);
            $$ = $1;
            APPEND($$, r, idlc_raise);
        }
    ;

mopts:
      %empty                { $$.head = $$.tail = NULL; }
    | '[' olist ']'         { $$ = $2; }
    ;

olist:
      dentry
        {
            $$.head = $$.tail = NULL;
            APPEND($$, $1, idlc_opt);
        }
    | olist ',' dentry
        {
            $$ = $1;
            APPEND($$, $3, idlc_opt);
        }
    ;

type:
      KW_TYPE               { $$ = mktype(ctx, (idlc_tkind) $1, &@1); }
    | KW_VOID               { $$ = mktype(ctx, TK_VOID, &@1); }
    | qname
        {
            $$ = mktype(ctx, TK_NAMED, &@1);
            $$->name = $1.str;
        }
    | KW_LIST '<' type '>'
        {
            $$ = mktype(ctx, TK_LIST, &@1);
            $$->elem = $3;
        }
    | KW_OPTIONAL '<' type '>'
        {
            $$ = mktype(ctx, TK_OPTIONAL, &@1);
            $$->elem = $3;
        }
    | KW_MAP '<' type ',' type '>'
        {
            $$ = mktype(ctx, TK_MAP, &@1);
            $$->key = $3;
            $$->elem = $5;
        }
    ;

%%

static bool
is_keyword(yysymbol_kind_t k)
{
    return k == YYSYMBOL_KW_TYPE
           || (k >= YYSYMBOL_KW_NAMESPACE && k <= YYSYMBOL_KW_MAP);
}

/*
 * Syntax errors (bison's parse.error custom). As bison's detailed
 * message ("syntax error, unexpected X, expecting A or B"), except:
 * a missing ';' whose next token is on a later line (or the end of the
 * file) is reported just after the token before it, and a reserved word
 * where a name is expected is named as such.
 */
static int
yyreport_syntax_error(const yypcontext_t *yc, yyscan_t scanner,
                      idlc_ctx *ctx)
{
    yysymbol_kind_t expected[YYNTOKENS];
    yysymbol_kind_t tok = yypcontext_token(yc);
    const IDLC_YYLTYPE *l = yypcontext_location(yc);
    /* The token before the lookahead (the last one read at the end). */
    const idlc_tok_info *prev = &ctx->last_tok[tok == YYSYMBOL_YYEOF];
    int n = yypcontext_expected_tokens(yc, expected, YYNTOKENS);
    bool semi = false, ident = false;
    idlc_buf msg = { NULL, 0, 0 };

    (void) scanner;
    if (ctx->stop_file)
        return 0;       /* the lexer stopped the file: already reported */
    for (int i = 0; i < n; i++) {
        semi |= expected[i] == YYTRANSLATE(';');
        ident |= expected[i] == YYSYMBOL_IDENT;
    }
    if (semi && prev->line > 0
        && (tok == YYSYMBOL_YYEOF || l->first_line > prev->line)) {
        idlc_loc at = { ctx->cur, prev->line, prev->col };

        idlc_error(ctx, at, "expected ';' after '%s'", prev->text);
        return 0;
    }
    if (ident && is_keyword(tok)) {
        idlc_error(ctx, mkloc(ctx, l), "'%s' is a reserved word of the IDL "
                   "and cannot be a name", ctx->last_tok[1].text);
        return 0;
    }
    idlc_buf_puts(&msg, "syntax error");
    if (tok != YYSYMBOL_YYEMPTY) {
        idlc_buf_printf(&msg, ", unexpected %s", yysymbol_name(tok));
        /* As bison's detailed messages: at most four expected tokens. */
        for (int i = 0; n <= 4 && i < n; i++)
            idlc_buf_printf(&msg, "%s%s", i == 0 ? ", expecting " : " or ",
                            yysymbol_name(expected[i]));
    }
    idlc_error(ctx, mkloc(ctx, l), "%s", msg.data);
    idlc_buf_free(&msg);
    return 0;
}
