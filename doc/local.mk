# Manual pages.
dist_man_MANS += %D%/libepyrpc.3

# The wire protocol, for peers written in other languages.
dist_doc_DATA += %D%/wire.md

# Section 3: one page per group of functions (epy_peer.3, epy_api.3,
# ...) and an alias page (.so) per function, listed in man3/pages.mk by
# man3/gen-aliases.sh. man3/check-pages.sh checks them against the
# headers: every public function has a page showing its prototype.
include %D%/man3/pages.mk
EXTRA_DIST += %D%/man3/pages.mk %D%/man3/protos.awk \
	%D%/man3/gen-synopsis.sh %D%/man3/gen-aliases.sh \
	%D%/man3/check-pages.sh
TESTS += %D%/man3/check-pages.sh

# Socket activation example (doc/runtime.md).
EXTRA_DIST += %D%/systemd/epyrpc-demo.socket %D%/systemd/epyrpc-demo.service
