/*
 * libepyrpc: what the support for generated code shares between its
 * files: where a C layout's values sit in protobuf-c's messages
 * (gen-layout.c), for the encoder (gen-encode.c) and the decoder
 * (gen-decode.c), and the building of messages that the calls and
 * replies of gen.c send. Never installed.
 */
#ifndef EPYRPC_GEN_INT_H
#define EPYRPC_GEN_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include <epyrpc/gen.h>

#include "runtime-int.h"

/* The common header of every generated list and map. */
typedef struct epy__gen_list {
    size_t n;
    void *items;
} epy__gen_list;

/* --- layouts next to protobuf-c's (gen-layout.c) ------------------------ */

/* The size of one value of @fd in a protobuf-c message or array. */
size_t epy__gen_pb_slot_size(const ProtobufCFieldDescriptor *fd);
/* True for fields whose presence protobuf-c keeps in a has_ member. */
bool epy__gen_pb_has_flag(const ProtobufCFieldDescriptor *fd);
/*
 * A composite value used as an element travels in a one-field message:
 * fills @f and @st to describe that message (@pb) holding @t.
 */
void epy__gen_wrapper_of(const epy_gen_type *t, epy_gen_field *f,
                         epy_gen_struct *st,
                         const ProtobufCMessageDescriptor *pb);

/* --- values out of line (blob.c) ---------------------------------------- */

_Static_assert(EPY__BLOB_PATH_MAX == 3 * (EPY_GEN_MAX_DEPTH + 1),
               "a blob's path: three words for each level");

/*
 * One level deeper on the path of the value being encoded or decoded
 * (@words, *@depth of them): @v, a field number, list index or map entry
 * part. Past EPY__BLOB_PATH_MAX only the depth counts (no value there
 * goes out of line).
 */
static inline void
epy__blob_path_push(uint32_t *words, size_t *depth, size_t v)
{
    if (*depth < EPY__BLOB_PATH_MAX)
        words[*depth] = v <= UINT32_MAX ? (uint32_t) v : UINT32_MAX;
    (*depth)++;
}

/*
 * A sealed memfd holding the @maplen bytes at @data (a string's NUL
 * included), in *@ret_fd: a duplicate of a view's own when @data is a
 * view of those bytes the program never wrote to. Returns 0, EPY_ENOMEM
 * or EPY_ESYSTEM.
 */
int epy__blob_make(const void *data, size_t maplen, int *ret_fd);
/*
 * Checks the received memfd @fd (sealed, large enough, every page
 * written) and maps it as a view of @len bytes (and a NUL after them
 * for a @string), which takes @fd. Returns 0, EPY_EPROTO (@fd is not
 * such a memfd) or EPY_ENOMEM; @fd is the caller's on failure.
 */
int epy__blob_map(int fd, uint64_t len, bool string, void **ret);
/* Unmaps the view at @p: false if @p is not one. */
bool epy__blob_release(void *p);

/* --- building messages (gen-encode.c) ----------------------------------- */

/* Scratch memory for the messages being packed, freed as a whole. */
typedef struct epy__gen_scratch epy__gen_scratch;

/*
 * Builds the protobuf-c message of @value in scratch memory *@s (start
 * with NULL; free with epy__gen_scratch_free() whatever the outcome).
 * Strings and bytes are not copied: the message refers to @value's.
 * Returns 0, EPY_EPARAM or EPY_ENOMEM.
 */
int epy__gen_build_message(epy__gen_scratch **s, const epy_gen_struct *st,
                           const void *value, ProtobufCMessage **ret_msg);
/*
 * epy__gen_build_message() sending the values that @pol says out of
 * line: their memfds are among the scratch's descriptors (closed with
 * it), their references in epy__gen_scratch_blobs(). Returns also
 * EPY_ETOOBIG (past the limit) and EPY_ESYSTEM.
 */
int epy__gen_build_message_blobs(epy__gen_scratch **s,
                                 const epy_gen_struct *st, const void *value,
                                 const epy__blob_policy *pol,
                                 ProtobufCMessage **ret_msg);
/* Frees @s and every message built in it; NULL is accepted. */
void epy__gen_scratch_free(epy__gen_scratch *s);
/* The descriptors of the `fd` values met building in @s: their count. */
int epy__gen_scratch_fds(const epy__gen_scratch *s, const int **ret_fds);
/* The values sent out of line from @s: their count. */
int epy__gen_scratch_blobs(const epy__gen_scratch *s,
                           const epy__blobref **ret_blobs);

/* --- decoding (gen-decode.c, gen-depth.c) ------------------------------- */

/*
 * True if the message @data (@len bytes) of type @desc nests messages at
 * most EPY_GEN_MAX_DEPTH deep and its framing is sound.
 */
bool epy__gen_depth_ok(const ProtobufCMessageDescriptor *desc,
                       const uint8_t *data, size_t len);

/*
 * epy_gen_decode() with the descriptors that came with the message
 * (@fds, NULL for none): an `fd` value takes its own (its entry becomes
 * -1); one that names a descriptor not there is EPY_EPROTO. The values
 * of @fds->blobs become views of their memfds (taken likewise); a blob
 * that names no empty bytes or string value, or a memfd that fails
 * epy__blob_map(), is EPY_EPROTO.
 */
int epy__gen_decode_fds(const epy_gen_struct *st, const void *data,
                        size_t len, void *value, epy__fdset *fds);

#endif /* EPYRPC_GEN_INT_H */
