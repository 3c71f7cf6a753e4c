/*
 * The nesting depth of received messages, checked on their wire form
 * before protobuf-c parses them (gen-decode.c): protobuf-c's parser and
 * the conversion to C recurse once per level, so a hostile peer could
 * otherwise exhaust the stack with a deeply nested message of a
 * recursive type.
 */
#include <config.h>

#include "gen-int.h"

/* Reads a varint at *@p (below @end); false if malformed. */
static bool
read_varint(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
    uint64_t v = 0;

    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b;

        if (*p >= end)
            return false;
        b = *(*p)++;
        v |= (uint64_t) (b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *ret = v;
            return true;
        }
    }
    return false;
}

/*
 * True if the message @data of type @desc nests sub-messages at most
 * EPY_GEN_MAX_DEPTH deep, and its framing is sound. Walks the wire form
 * with its own stack: protobuf-c's parser and the conversion above
 * recurse once per level, so a hostile peer could otherwise exhaust the
 * stack with a deeply nested message of a recursive type.
 */
bool
epy__gen_depth_ok(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
         size_t len)
{
    struct level {
        const ProtobufCMessageDescriptor *desc;
        const uint8_t *end;
    } stack[EPY_GEN_MAX_DEPTH + 1];
    const uint8_t *p = data;
    int sp = 0;

    stack[0].desc = desc;
    stack[0].end = data + len;
    for (;;) {
        const ProtobufCFieldDescriptor *fd;
        uint64_t key, n;

        while (p == stack[sp].end) {
            if (sp == 0)
                return true;
            sp--;
        }
        if (!read_varint(&p, stack[sp].end, &key) || (key >> 3) == 0
            || (key >> 3) > UINT32_MAX)
            return false;
        switch (key & 7) {
        case 0:
            if (!read_varint(&p, stack[sp].end, &n))
                return false;
            break;
        case 1:
            if (stack[sp].end - p < 8)
                return false;
            p += 8;
            break;
        case 5:
            if (stack[sp].end - p < 4)
                return false;
            p += 4;
            break;
        case 2:
            if (!read_varint(&p, stack[sp].end, &n)
                || n > (uint64_t) (stack[sp].end - p))
                return false;
            fd = stack[sp].desc != NULL
                ? protobuf_c_message_descriptor_get_field(stack[sp].desc,
                                                          (unsigned) (key >> 3))
                : NULL;
            if (fd != NULL && fd->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (sp == EPY_GEN_MAX_DEPTH)
                    return false;
                sp++;
                stack[sp].desc = fd->descriptor;
                stack[sp].end = p + n;
            } else {
                p += n;
            }
            break;
        default:
            return false;
        }
    }
}
